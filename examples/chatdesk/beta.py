"""ChatDesk beta: a "small" change to the digest cache, and the leak it brings.

The digest moved to a per-conversation cache, so a long thread would not recompute
it.  Threads are shared (a team channel, a support ticket), and the cache key lost
the user: the first user to ask for a thread's digest fills it, and everyone else
on that thread reads their notes from it.  ``adapter.open_beta_target`` fuzzes this
version; the README shows the finding, its replay and its regression test.
"""

from __future__ import annotations

from examples.chatdesk.app import ChatDesk

__all__ = ["ChatDeskBeta"]


class ChatDeskBeta(ChatDesk):
    """ChatDesk with the digest cached per thread."""

    def digest_key(self, user: str, thread: str) -> str:
        return f"{self.settings.key_prefix}digest:thread:{thread}"
