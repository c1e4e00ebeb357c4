"""Profiles and the resolved budget: how long a campaign may search, decided once.

Design note.  A campaign's budget comes from three places: the profile's defaults,
``--max-examples`` and ``--budget``.  The rule that combines them (an explicit
example count with no explicit time *is* the budget; otherwise the time budget,
given or from the profile, bounds the search) used to be written twice, once in
the campaign and once in the CLI to size the progress bar, and the two could
drift.  Now :func:`resolve_budget` applies it once; the campaign carries the
result in its ``CampaignStarted`` event, and every handler reads it from there.

The budget is time (issue 10).  ``--budget 60s`` used to stop at the quick
profile's 100 examples after about 30 s and say nothing, and a bug that needed 12 s
more went unfound.  Now a time budget, given or from the profile, runs until the
time is spent unless ``--max-examples`` is also given; the profile's example cap
applies only when there is no time budget at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from isolation_fuzz.errors import UsageError

__all__ = ["PROFILES", "Budget", "Profile", "profile_named", "resolve_budget"]


@dataclass(frozen=True)
class Profile:
    """A named set of campaign defaults."""

    name: str
    max_examples: int
    budget_seconds: float | None
    step_count: int
    derandomize: bool
    use_database: bool
    #: Examples Hypothesis may run shrinking a failure before the move minimiser takes
    #: over: a count, not seconds, so that the same seed shrinks to the same scenario.
    shrink_examples: int = 100


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", 100, None, 30, False, False),
    "nightly": Profile("nightly", 1_000_000, 30 * 60, 40, False, True, 400),
    "pre-release": Profile("pre-release", 300, None, 30, True, False),
}


@dataclass(frozen=True)
class Budget:
    """What a campaign may spend, resolved from its profile and the explicit limits.

    Attributes:
        profile: The profile the campaign runs under.
        seconds: Seconds allowed (engine start-up included), or ``None`` for no time
            limit.
        max_examples: Examples allowed, or ``None`` when only the time limits the search.
        shrink_examples: Examples Hypothesis may run shrinking after the first failure
            (the profile's, a count so that a seed shrinks to the same scenario).
        shrink_seconds: Seconds the move minimiser may take after that.
    """

    profile: Profile
    seconds: float | None
    max_examples: int | None
    shrink_examples: int = 100
    shrink_seconds: float = 60.0


def profile_named(name: str) -> Profile:
    """The profile called ``name``; a :class:`UsageError` naming the choices otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None


def resolve_budget(
    profile: str, max_examples: int | None = None, budget_seconds: float | None = None
) -> Budget:
    """Combine a profile's defaults with the explicit limits; unset limits come from it.

    An explicit example count without an explicit time budget is the whole budget:
    ``--max-examples 50`` under ``nightly`` runs 50 examples, not 30 minutes.  A time
    budget without an explicit example count is the whole budget too: ``--budget
    60s`` under ``quick`` runs for 60 s, not for the profile's 100 examples.
    """
    chosen = profile_named(profile)
    if max_examples is not None and max_examples < 1:
        raise UsageError(f"--max-examples must be at least 1, got {max_examples}")
    if budget_seconds is not None and not budget_seconds > 0:
        raise UsageError(f"--budget must be positive, got {budget_seconds!r} seconds")
    seconds = budget_seconds
    if seconds is None and max_examples is None:
        seconds = chosen.budget_seconds
    examples = max_examples
    if examples is None and seconds is None:
        examples = chosen.max_examples  # no time budget: the profile's cap is the budget
    return Budget(chosen, seconds, examples, shrink_examples=chosen.shrink_examples)
