"""Run events, pushed to every open WebSocket of the run's user."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import WebSocket


class Hub:
    def __init__(self) -> None:
        self.sockets: dict[str, set[WebSocket]] = defaultdict(set)

    def join(self, user: str, socket: WebSocket) -> None:
        self.sockets[user].add(socket)

    def leave(self, user: str, socket: WebSocket) -> None:
        self.sockets[user].discard(socket)

    async def publish(self, user: str, frame: dict[str, Any]) -> None:
        for socket in list(self.sockets.get(user, ())):
            await socket.send_json(frame)
