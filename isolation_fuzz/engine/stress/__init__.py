"""stress: many identities at once, and a stress finding made stepped.

What lives here: the orchestrator (``runner``), one stress window of many identities
with runs truly at once (``window``), what a window draws from one seed (``draws``),
seeded schedule noise at every point (``noise``), checking a history that keeps
growing (``checker``), and a violation seen under stress turned into a stepped
scenario like any other (``finding``).

Who may import it: the CLI and the reporters; users reach it through the face
(``run_stress``, ``StressConfig``).  What it imports: every other sub-floor and the
ground.  This door re-exports nothing.
"""
