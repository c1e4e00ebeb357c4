"""Hypothesis strategies for isolation-fuzz: identities, forged tokens, threads and plans.

Each strategy draws plain data (strings, frozen records) so the state machine, the
scenario files and the user's own tests can all use them.  Adversarial values are
drawn often, not only at the edges: user ids that are prefixes of each other, that
hold delimiters or glob characters, or that differ only by case or Unicode
normalisation, because those are the ids that break key layouts.  The identity
families (:data:`FAMILIES`, in ``identity_families``) name each way two ids collide,
so they can be counted; ``provider_ids`` draws provider-style ids that share long
prefixes, for the ``shared-N`` families.
"""

from __future__ import annotations

from isolation_fuzz.strategies.identities import (
    confusable_pairs,
    identity_sets,
    labelled_identity_sets,
    user_ids,
)
from isolation_fuzz.strategies.identity_families import FAMILIES, Family, family_pairs
from isolation_fuzz.strategies.plans import KEY_POOL, plans, tool_calls
from isolation_fuzz.strategies.threads import THREAD_POOL, thread_ids
from isolation_fuzz.strategies.tokens import forgery_kinds

__all__ = [
    "FAMILIES",
    "KEY_POOL",
    "THREAD_POOL",
    "Family",
    "confusable_pairs",
    "family_pairs",
    "forgery_kinds",
    "identity_sets",
    "labelled_identity_sets",
    "plans",
    "thread_ids",
    "tool_calls",
    "user_ids",
]
