"""Systems of other shapes than the reference platform, each adapted in under 100 lines.

``examples.chatdesk``: a multi-user assistant over Redis with its own key layout and
event kinds (``app.py``), a regression of it (``beta.py``) and its adapter
(``adapter.py``).  Importable from the repository root, so
``isolation-fuzz run --target examples.chatdesk.adapter:open_target`` works there.
"""
