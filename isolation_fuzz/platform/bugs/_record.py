"""One record per seeded bug: everything the zoo knows about a bug, in one place.

A bug module's docstring explains its bug and walks through the shortest interleaving
that shows it; its :class:`SeededBug` record states the same facts as data: the
name (``zoo:<name>`` as a target), the length of that interleaving, the invariants
that catch it and the factory that opens the variant.  The zoo runner, the zoo's
tests, the benchmark and the target registry all read the records; nothing else
restates them (the README's measured table is checked against them by
``tests/zoo/test_zoo.py``).

The invariant names are plain strings here, so the platform never imports the
oracle; the tests check that each one is an invariant the engine has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from isolation_fuzz.target import TargetFactory

__all__ = ["FAMILY", "SeededBug", "first_line"]

#: The prefix of every seeded bug's target name; ``pyproject.toml`` declares the family
#: ``zoo:*`` in the ``isolation_fuzz.targets`` entry-point group.
FAMILY = "zoo:"


def first_line(doc: str | None) -> str:
    """The first line of a docstring (a bug module passes its own ``__doc__``)."""
    text = (doc or "").strip()
    return text.splitlines()[0] if text else ""


@dataclass(frozen=True)
class SeededBug:
    """A seeded-bug variant of the reference platform, as data.

    Attributes:
        name: the module's name; the bug is selected as ``zoo:<name>``.
        shortest: the number of moves (before the final reads) of the shortest
            interleaving that shows the bug; a shrunk finding must be at most one
            move longer.
        trips: the invariants that catch the bug: a campaign against it must
            violate at least one of them.
        open_target: the target factory of the variant (``variant(part=...)``).
        summary: one line saying what is wrong (the module docstring's first line).
        shortest_auto: the same length with automatic points only (explicit
            checkpoints off, ``--points auto-only``), where it differs; ``None``:
            the same as ``shortest``.
    """

    name: str
    shortest: int
    trips: tuple[str, ...]
    open_target: TargetFactory = field(repr=False, compare=False)
    summary: str
    shortest_auto: int | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"seeded bug name {self.name!r} must be its module's name")
        if self.shortest < 0:
            raise ValueError(f"{self.name}: shortest must be >= 0, not {self.shortest!r}")
        if not self.trips:
            raise ValueError(f"{self.name}: name at least one invariant the bug trips")
        if not self.summary or "\n" in self.summary:
            raise ValueError(f"{self.name}: the summary must be one line, not {self.summary!r}")

    @property
    def target(self) -> str:
        """The target name that selects this variant: ``zoo:<name>``."""
        return f"{FAMILY}{self.name}"
