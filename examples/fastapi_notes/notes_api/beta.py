"""The next release's Notes API: one Agent for the whole app, bound to each caller.

Allocating an Agent per request showed up in a profile, so the beta keeps one and
binds it to the caller at the start of each run.  Two runs at once share it.
"""

from __future__ import annotations

from typing import Any

from notes_api.main import Agent, create_app

_shared: dict[str, Agent] = {}


def _one_agent(store: Any, user: str) -> Agent:
    if "agent" not in _shared or _shared["agent"].store is not store:
        _shared["agent"] = Agent(store, user)
    return _shared["agent"]


app = create_app(agent_for=_one_agent)
