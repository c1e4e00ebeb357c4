"""oracle: judging a history.

What lives here: the one registry of invariants (``registry``), the bundled
invariants of isolation as plain functions over a history (``invariants``), the read
model of what an identity's own writes say it must read (``reads``), the lifecycle
rules of a run's events (``lifecycle``), and the same invariants checked as the
history grows (``incremental``).

Who may import it: the sub-floors above it (example, replay, campaign, stress), the
reporters and the face (which names ``invariant`` and ``register_invariant``).  What
it imports: the ground and ``schedule``; never an example, a campaign or stress.
This door re-exports nothing: import from the module that defines a name.
"""
