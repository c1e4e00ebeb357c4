"""The engine: the search for isolation violations, and nothing it searches.  Private.

Six sub-floors over a small ground, each with a door of its own that says what lives
there (read them in this order, top to bottom):

* ``stress``: many identities at once, and a stress finding made stepped;
* ``campaign``: the search to a budget, its events and verdict;
* ``replay``: a failing case as a file (scenario, shape, perform, shrink, reproduce);
* ``example``: the world one example runs in and its moves;
* ``oracle``: judging a history (the registry, the bundled invariants, incremental);
* ``schedule``: driving runs point by point (the controller, points, stalls).

The ground, which imports no sub-floor: the append-only record of an example
(``history``), the markers in every value an identity writes (``canary``), the moves
in a form people and files read (``trace``), and stopping without losing what was
found (``stopping``).  ``reproduce`` and ``scenario`` at this level are deprecated
forwarding modules, kept one release for regression tests exported by 0.1.0.

A sub-floor imports only the sub-floors after it in the list and the ground;
``TYPE_CHECKING`` imports count.  The engine imports nothing from
``isolation_fuzz.platform``, ``isolation_fuzz.cli`` or ``isolation_fuzz.report``: it
reaches a system under test only through :mod:`isolation_fuzz.target`, and its results
leave through events and return values.  ``tests/test_layers.py`` holds it to both.

Nothing here is public: users import from :mod:`isolation_fuzz` (the face) and
:mod:`isolation_fuzz.kit`; the CLI, the reporters, the zoo and the pytest plugin are the
only other importers.  No door re-exports, so ``import isolation_fuzz`` stays light.
"""
