"""schedule: driving agent runs point by point.

What lives here: the step controller (``controller``) and what it knows of each run
(``runs``), the campaign's long-lived event loop (``loop``), the tasks a run starts,
adopted as its actors (``tasks``), the interleaving points a run pauses at, explicit
or at every real await (``points``), what a silent run waits on and which paused run
holds it (``waits``), and telling a stalled service from a run that waits on another
run (``stall``).

Who may import it: every other sub-floor of the engine.  What it imports: the
engine's ground (``history``, ``canary``, ``trace``, ``stopping``), the package's
records, errors and the ``checkpoint`` hook; no other sub-floor.  This door
re-exports nothing: import from the module that defines a name.
"""
