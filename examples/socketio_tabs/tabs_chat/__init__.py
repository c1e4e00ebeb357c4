"""Tabs Chat: a small multi-user agent chat on socket.io, whose events go to one tab."""
