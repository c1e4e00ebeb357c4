"""The engine: the search for isolation violations, and nothing it searches.

What lives here: the records of what happened (``history``, ``canary``), the oracle
that reads them (``oracle``), the step controller that owns the interleaving
(``schedule``), the world a campaign shares (``harness``), one example's moves
(``execution``) and what observes them (``outcome``, ``forging``), the Hypothesis
state machine that draws the moves (``machine``), the campaign that runs the
machine to a budget resolved once (``campaign``, ``budget``, ``stopping``,
``session``) and the typed events it emits to its handlers (``events``), and what
turns a finding into a replayable file (``trace``, ``scenario``, ``replay``, ``reproduce``).
``gather`` is the benchmark's stress-test baseline; the machine never uses it.

Who may import it: the CLI, the reporters, the zoo runner, the pytest plugin and
users who drive a campaign from Python.  The engine itself imports nothing from
``isolation_fuzz.platform``, ``isolation_fuzz.cli`` or ``isolation_fuzz.report``:
it reaches a system under test only through :mod:`isolation_fuzz.target` (a
protocol and a lazy registry), and its results leave through events and return
values.  ``tests/test_layers.py`` holds it to that.
"""
