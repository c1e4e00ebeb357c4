"""replay: a failing case as a file, and what can be done with it.

What lives here: the versioned scenario file (``scenario``) and its shape checked
field by field (``shape``), re-executing a list of moves (``perform``), cutting a
failing list down to the moves it needs (``shrink``) and dropping identities no move
needs (``drop_identity``), replaying saved scenarios or exporting them as
regression tests (``reproduce``), and replaying a gate's corpus as events of its own
(``corpus``).

Who may import it: campaign, stress, the reporters and the CLI; users reach it through
the face (``Scenario``, ``replay_scenario``, ``export_test``).  What it imports:
``example``, ``oracle``, ``schedule`` and the ground.  This door re-exports nothing.
"""
