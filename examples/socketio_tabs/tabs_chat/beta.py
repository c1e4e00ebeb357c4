"""The next release: events go out through one broadcast helper, to every tab at once.

The new notification panel wanted every event; emitting without ``to=`` was the
quickest way to get them there.  Every tab of every user now sees every run.
"""

from __future__ import annotations

from typing import Any

from tabs_chat.app import create_app, sio


async def to_everyone(event: str, data: dict[str, Any], sid: str) -> None:
    await sio.emit(event, data)


app = create_app(send=to_everyone)
