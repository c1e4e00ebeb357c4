"""The incremental oracle: the registered invariants, checked as the history grows.

Design note (issue 14).  The batch oracle re-reads the whole history at every check,
so an example of ``n`` moves costs ``O(n^2)`` and a stress window with thousands of
records spends its time re-checking what it already checked.  Here each registered
invariant that has an incremental *form* (:mod:`.forms`, :mod:`.lifecycle`,
:mod:`.reads`) keeps its own state and consumes only the records added since the last
check; ``check`` returns exactly the list :func:`isolation_fuzz.engine.oracle.invariants.check`
would return for the whole history: the same violations, the same words, the same
order (by step, ties in registration order), crash-safe in the same way.

Correctness never depends on the fast path:

* an invariant with no form (a user's, or a bundled one replaced by another
  function) is checked by its batch function over the whole history, as before;
* a form that raises is dropped for the rest of this history and its invariant is
  checked by the batch function from then on (which reports the crash as unknown if
  the batch function crashes too, never as a violation);
* if the identities or the capabilities change, or the history got shorter, the state
  is thrown away and rebuilt from the first record: verdicts word identities with
  their user ids, so they must be re-worded.  ``run`` and ``stress`` register every
  identity before the first record, so this never happens there.

Forms are keyed by the batch function itself (``oracle.no_foreign_data``, ...):
unregistering an invariant stops both paths, and re-registering another function
under a bundled name gets the batch path.
"""

from __future__ import annotations

from collections.abc import Callable

from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.oracle.incremental.forms import (
    PLAIN_FORMS,
    EventRouting,
    ForeignData,
    Form,
)
from isolation_fuzz.engine.oracle.incremental.lifecycle import Lifecycle
from isolation_fuzz.engine.oracle.incremental.reads import ReadYourWrites
from isolation_fuzz.engine.oracle.registry import (
    Checked,
    CheckFunction,
    Invariant,
    Unknown,
    registered_invariants,
)
from isolation_fuzz.errors import InvariantCrashed
from isolation_fuzz.model import Violation

__all__ = ["FORMS", "IncrementalOracle"]

FormFactory = Callable[[History, CheckFunction], Form]

#: The incremental form of each bundled invariant, keyed by its batch function.
FORMS: dict[CheckFunction, FormFactory] = {
    oracle.no_foreign_data: ForeignData,
    oracle.events_reach_only_owner: EventRouting,
    oracle.complete_lifecycle: Lifecycle,
    oracle.read_your_writes: ReadYourWrites,
    oracle.rejects_bad_tokens: PLAIN_FORMS["rejects_bad_tokens"],
    oracle.no_residue: PLAIN_FORMS["no_residue"],
    oracle.runs_make_progress: PLAIN_FORMS["runs_make_progress"],
}


class IncrementalOracle:
    """Every registered invariant over one growing history, at the cost of what was added.

    Args:
        history: the history to watch; only ever appended to between checks.
    """

    def __init__(self, history: History) -> None:
        self.history = history
        self._forms: dict[str, Form] = {}
        #: Invariants whose form crashed: checked by their batch function from then on.
        self.fallen_back: set[str] = set()
        self._shape = self._current_shape()

    def _current_shape(self) -> tuple[int, object, int]:
        return (len(self.history.identities), self.history.capabilities,
                len(self.history.entries))

    def _rebuild_if_needed(self) -> None:
        identities, capabilities, length = self._current_shape()
        known_ids, known_caps, known_length = self._shape
        if identities != known_ids or capabilities is not known_caps or length < known_length:
            self._forms.clear()
        self._shape = (identities, capabilities, length)

    def checked(self) -> Checked:
        """What every registered invariant finds, as `check_all` would return it."""
        self._rebuild_if_needed()
        found: list[Violation] = []
        unknown: list[Unknown] = []
        for entry in registered_invariants():
            violations = self._incremental(entry)
            if violations is None:
                try:
                    violations = entry(self.history)
                    bad = next((v for v in violations if not isinstance(v, Violation)), None)
                    if bad is not None:
                        raise TypeError(f"it returned {bad!r}, not a Violation")
                except Exception as exc:  # check-safe: a crash is never a violation
                    unknown.append(Unknown(entry.name, self.history.last_step,
                                           f"{type(exc).__name__}: {exc}"))
                    continue
            found += violations
        if len(found) > 1:
            found.sort(key=lambda v: v.step)
        return Checked(tuple(found), tuple(unknown))

    def _incremental(self, entry: Invariant) -> list[Violation] | None:
        """The form's violations, or None when ``entry`` takes the batch path."""
        factory = FORMS.get(entry.check)
        if factory is None or entry.name in self.fallen_back:
            return None
        form = self._forms.get(entry.name)
        if form is None or form.check is not entry.check:
            form = self._forms[entry.name] = factory(self.history, entry.check)
        try:
            return form.advance()
        except Exception:
            # The fast path is never trusted past a crash: the batch function decides.
            self.fallen_back.add(entry.name)
            del self._forms[entry.name]
            return None

    def check(self) -> list[Violation]:
        """Every violation of every registered invariant, exactly as `oracle.check` returns.

        Raises:
            InvariantCrashed: an invariant crashed and no other found a violation.
        """
        checked = self.checked()
        if checked.valid is None:
            raise InvariantCrashed([(u.invariant, u.step, u.error) for u in checked.unknown])
        return list(checked.violations)
