"""example: the world one example runs in, and its moves.

What lives here: what every example of a campaign shares and the failure it raises
(``harness``), the session that holds the loop, services and target open
(``session``), a fresh target per example (``fresh``), one example's moves
(``execution``) and its connection moves (``connections``), forged tokens presented
to the target (``forging``), what a moved run came to (``outcome``), and the plain
``gather`` baseline that runs plans truly at once (``gather``).

Who may import it: replay, campaign and stress.  What it imports: ``oracle``,
``schedule``, the ground, the token contract (:mod:`isolation_fuzz.tokens`), the
services and the target protocol.  This door re-exports nothing.
"""
