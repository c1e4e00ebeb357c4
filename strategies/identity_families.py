"""Identity families: pairs of user ids that collide under what real systems do to ids.

Design note.  A multi-user system rarely uses a user id as it arrives: it truncates it
(a ``varchar(64)`` column, the first 8 hex digits in a log line, a 32-character hash
prefix), sanitises it for a key or a file name (``a.b`` -> ``a_b``), normalises it
(case, NFC or NFKC, surrounding whitespace, ``07`` -> ``7``, ``Ann+x@Example.com`` ->
``ann@example.com``), decodes it (``a%3Ab`` -> ``a:b``) or splices it raw into a key, a
glob or a LIKE pattern.  Each of those maps two distinct ids to one, and then one user
owns the other's data.  Random text almost never hits such a pair (issue 13: in 4,000
generated sets, no two ids shared their first 8 characters), so each family here
*constructs* one.

A family is named, carries the relation its pairs satisfy (``collides``: the
transformation makes them equal, or one id's pattern matches the other), and draws a
pair from a *base* id.  Families that can keep the base as one of the two ids do, so
that a third id can be made to collide with an id already in the set
(:func:`isolation_fuzz.strategies.identities.identity_sets`).  Every draw is a handful of Hypothesis
choices (a family index, a variant, one big integer for a provider-style id): an
identity set must stay cheap, since every example draws one.

The names are what the benchmark ``benchmarks/identity_families.py`` counts and what
tests hold each family to: every pair it draws is distinct and collides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TypeVar
from urllib.parse import quote, unquote, unquote_plus

from hypothesis import strategies as st

from isolation_fuzz.strategies.provider_ids import (
    SHARED_PREFIX_LENGTHS,
    shared_prefix_pairs,
    shares_prefix,
)

__all__ = ["FAMILIES", "SHARED_PREFIX_LENGTHS", "Family", "family_names", "family_pairs"]

T = TypeVar("T")
Pair = tuple[str, str]
PairDrawer = Callable[[st.DrawFn, str], Pair]


@dataclass(frozen=True)
class Family:
    """A named way for two distinct user ids to collide.

    Attributes:
        name: What the benchmark table and the tests call it.
        transformation: What a system does to ids that makes a pair of this family one.
        weight: How often it is drawn, relative to the others.
        draw_pair: ``(draw, base) -> (a, b)``; keeps ``base`` as ``a`` when it can.
        collides: The relation every pair it draws satisfies.
    """

    name: str
    transformation: str
    weight: int
    draw_pair: PairDrawer
    collides: Callable[[str, str], bool]


def _same_under(fn: Callable[[str], object]) -> Callable[[str, str], bool]:
    return lambda a, b: a != b and fn(a) == fn(b)


# -- prefixes and key layouts (as before issue 13) -----------------------------------

# Built once: drawing an index costs one choice; building a strategy per draw costs more.
_INDEX = {n: st.integers(0, n - 1) for n in range(1, 9)}


def _pick(draw: st.DrawFn, options: Sequence[T]) -> T:
    """One of ``options`` (shrinking towards the first), without building a strategy."""
    return options[draw(_INDEX[len(options)])]


def _prefix(draw: st.DrawFn, base: str) -> Pair:  # u1 / u10: prefix matching owns both
    return base, base + _pick(draw, ("0", "1", "_2", "x"))


def _delimiter(draw: st.DrawFn, base: str) -> Pair:  # a / a:b: `user:{uid}:{key}` collides
    # `b` because the key pool holds both `x` and `b:x`: a:b's `x` is a's `b:x`.
    return base, f"{base}:b"


def _glob(draw: st.DrawFn, base: str) -> Pair:  # x / x*: a SCAN pattern built from the id
    form = _pick(draw, ("*", "?", "[]"))
    if form == "?" and base[-1] not in "?*[]":
        pattern = f"{base[:-1]}?"
    elif form == "[]" and base[-1].isalnum():
        pattern = f"{base[:-1]}[{base[-1]}1]"
    else:
        pattern = f"{base}*"
    # A base that is itself a pattern (`[a1]`) need not match its own text.
    return (base, pattern) if fnmatchcase(base, pattern) else ("x", "x*")


def _like(draw: st.DrawFn, base: str) -> Pair:  # x / x%: a LIKE pattern built from the id
    if _pick(draw, ("%", "_")) == "_" and base[-1] not in "_%":
        return base, f"{base[:-1]}_"
    return base, f"{base}%"


def _glob_matches(a: str, b: str) -> bool:
    return a != b and (fnmatchcase(b, a) or fnmatchcase(a, b))


def _like_regex(pattern: str) -> str:
    return "".join({"%": ".*", "_": "."}.get(c, re.escape(c)) for c in pattern)


def _like_matches(a: str, b: str) -> bool:
    return a != b and bool(
        re.fullmatch(_like_regex(a), b, re.S) or re.fullmatch(_like_regex(b), a, re.S)
    )


def _delimited(a: str, b: str) -> bool:
    return b.startswith(a + ":") or a.startswith(b + ":")


# -- sanitisers, normalisation and encodings ------------------------------------------

_PUNCT = re.compile(r"[^A-Za-z0-9]")


def _sanitised(text: str, replacement: str) -> str:
    return _PUNCT.sub(replacement, text)


def _sanitise(draw: st.DrawFn, base: str) -> Pair:  # a.b / a_b: punctuation to _ or -, or gone
    replacement = _pick(draw, ("_", "-", ""))
    if _PUNCT.search(base) and _sanitised(base, replacement) != base:
        return base, _sanitised(base, replacement)
    mark = _pick(draw, (".", "@", "/", " ", ":", "+"))
    return f"{base}{mark}b", f"{base}{replacement}b"


def _sanitiser_collides(a: str, b: str) -> bool:
    return a != b and any(_sanitised(a, r) == _sanitised(b, r) for r in ("_", "-", ""))


def _case(draw: st.DrawFn, base: str) -> Pair:  # compared after lower-casing
    folded = base.casefold()
    forms = [f for f in (base.upper(), base.swapcase(), base.lower())
             if f != base and f.casefold() == folded]
    if forms:
        return base, _pick(draw, forms)
    return base + "a", base + "A"


def _nfd(draw: st.DrawFn, base: str) -> Pair:  # the same text, composed and decomposed
    if unicodedata.normalize("NFD", base) != base:
        return base, unicodedata.normalize("NFD", base)
    word = _pick(draw, ("é", "ñu", "Åsa", "Zoë", "한"))
    return word, unicodedata.normalize("NFD", word)


_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}


#: Superscript digits: NFKC folds each to its ASCII digit.
_SUPERSCRIPT = dict(zip("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077"
                        "\u2078\u2079", strict=True))


def _nfkc(draw: st.DrawFn, base: str) -> Pair:  # compatibility forms NFKC folds together
    form = _pick(draw, ("fullwidth", "superscript", "ligature"))
    if form == "fullwidth" and any(c in _FULLWIDTH for c in base):
        return base, "".join(_FULLWIDTH.get(c, c) for c in base)
    if form == "superscript" and any(c in _SUPERSCRIPT for c in base):
        return base, "".join(_SUPERSCRIPT.get(c, c) for c in base)
    return _COMPAT[form]


#: Compatibility forms, escaped: a ligature, a superscript, full width.
_COMPAT = {"ligature": ("file", "\ufb01le"), "superscript": ("x2", "x\u00b2"),
           "fullwidth": ("user", "\uff55\uff53\uff45\uff52")}


def _whitespace(draw: st.DrawFn, base: str) -> Pair:  # trimmed before use, compared raw
    space = _pick(draw, (" ", "\u00a0", "\u3000"))
    return base, _pick(draw, (base + space, space + base))


def _numeric_value(text: str) -> float | None:
    try:
        return float(text)  # also what a JSON number in JavaScript becomes
    except ValueError:
        return None


def _numeric(draw: st.DrawFn, base: str) -> Pair:  # 7 / 07: parsed as a number somewhere
    digits = base if base.isascii() and base.isdigit() else "7"
    form = _pick(draw, ("0", "+", ".0", "e0", "fullwidth", "2**53"))
    if form == "2**53":  # a 64-bit id through a double: 2**53 + 1 becomes 2**53
        return "9007199254740993", "9007199254740992"
    if form == "fullwidth":
        return digits, "".join(chr(ord(c) + 0xFEE0) for c in digits)
    return digits, {"0": "0" + digits, "+": "+" + digits}.get(form, digits + form)


def _numeric_collides(a: str, b: str) -> bool:
    value = _numeric_value(a)
    return a != b and value is not None and value == _numeric_value(b)


def _email_key(text: str) -> str:
    local, _, domain = text.rpartition("@")
    return local.split("+", 1)[0].lower() + "@" + domain.lower()


def _email_user(text: str) -> str:  # the user name a sign-up form derives from an address
    return text.partition("@")[0].split("+", 1)[0].lower()


_ADDRESS = re.compile(r"([^@+\s]+)@([a-z0-9.-]*[a-z][a-z0-9.-]*)")
_LOCAL = re.compile(r"[A-Za-z0-9._-]+")


def _email(draw: st.DrawFn, base: str) -> Pair:  # plus-addressing, domain case, user name
    match = _ADDRESS.fullmatch(base)
    local, domain = match.groups() if match else (
        base if _LOCAL.fullmatch(base) else "ann", "example.com")
    address = f"{local}@{domain}"
    form = _pick(draw, ("plus", "domain case", "user name"))
    if form == "user name":
        return (address, local) if match or local != base else (base, address)
    if form == "plus":
        return address, f"{local}+{_pick(draw, ('x', 'b', 'admin'))}@{domain}"
    return address, f"{local}@{domain.upper()}"


def _email_collides(a: str, b: str) -> bool:
    return a != b and (_email_key(a) == _email_key(b) or _email_user(a) == _email_user(b))


def _url(draw: st.DrawFn, base: str) -> Pair:  # a:b / a%3Ab: decoded on one path only
    if quote(base, safe="") != base and unquote(base) == base:
        return base, quote(base, safe="")
    if _pick(draw, ("escaped", "reserved")) == "escaped":
        # Any character may arrive percent-encoded: u1 / u%31.
        return base, base[:-1] + "".join(f"%{byte:02X}" for byte in base[-1].encode())
    mark = _pick(draw, (":", "/", "@", " "))
    encoded = _pick(draw, (quote(mark, safe=""), quote(mark, safe="").lower()))
    return f"{base}{mark}b", f"{base}{encoded}b"


def _url_collides(a: str, b: str) -> bool:
    return a != b and (unquote(a) == unquote(b) or unquote_plus(a) == unquote_plus(b))


def _family_list() -> tuple[Family, ...]:
    # Prefix, delimiter and glob pairs weigh three times the others: they break the
    # key layouts, SCAN patterns and owner filters of nearly every store, and with all
    # 17 equal, the bugs they find often outlasted a 60 s budget
    # (benchmarks/first_failure.py).  The weights apply to a set's first pair only; the
    # second is drawn unweighted, which keeps the rarest family over the 3% floor
    # (benchmarks/identity_families.py).  Prefixes come first: Hypothesis shrinks
    # towards the first.
    shared = tuple(
        Family(f"shared-{n}", f"truncated to {n} characters (provider-style ids)", 1,
               shared_prefix_pairs(n), shares_prefix(n))
        for n in SHARED_PREFIX_LENGTHS
    )
    return (
        Family("prefix", "matched by prefix (u1 owns u10's keys)", 3, _prefix,
               lambda a, b: a != b and (a.startswith(b) or b.startswith(a))),
        Family("delimiter", "spliced raw into `user:{id}:{key}`", 3, _delimiter, _delimited),
        Family("glob", "spliced raw into a glob (Redis SCAN/KEYS)", 3, _glob, _glob_matches),
        Family("like", "spliced raw into a SQL LIKE pattern", 1, _like, _like_matches),
        *shared,
        Family("sanitise", "punctuation mapped to _ or -, or stripped", 1, _sanitise,
               _sanitiser_collides),
        Family("case", "lower-cased", 1, _case, _same_under(str.casefold)),
        Family("nfc-nfd", "NFC-normalised", 1, _nfd,
               _same_under(lambda s: unicodedata.normalize("NFC", s))),
        Family("nfkc", "NFKC-normalised (compatibility characters)", 1, _nfkc,
               _same_under(lambda s: unicodedata.normalize("NFKC", s))),
        Family("whitespace", "stripped of surrounding whitespace", 1, _whitespace,
               _same_under(str.strip)),
        Family("numeric", "parsed as a number", 1, _numeric, _numeric_collides),
        Family("email", "e-mail normalised (plus-addressing, case, user name)", 1, _email,
               _email_collides),
        Family("url-encoding", "URL-decoded", 1, _url, _url_collides),
    )


#: Every family, by name, in the order Hypothesis shrinks towards (first = simplest).
FAMILIES: dict[str, Family] = {f.name: f for f in _family_list()}


def family_names(weighted: bool = True) -> st.SearchStrategy[str]:
    """A family's name, drawn by weight (or, ``weighted=False``, each as often)."""
    return _FAMILY_NAMES if weighted else _EVERY_FAMILY


_FAMILY_NAMES: st.SearchStrategy[str] = st.sampled_from(
    [f.name for f in FAMILIES.values() for _ in range(f.weight)]
)
_EVERY_FAMILY: st.SearchStrategy[str] = st.sampled_from(list(FAMILIES))
_BASES = st.sampled_from(["u1", "a", "user", "x", "7"])


@st.composite
def _family_pair(draw: st.DrawFn, family: Family, bases: st.SearchStrategy[str]) -> Pair:
    return family.draw_pair(draw, draw(bases))


def family_pairs(name: str, bases: st.SearchStrategy[str] = _BASES) -> st.SearchStrategy[Pair]:
    """Pairs of one family built on ids from ``bases``: for tests and a target's own checks."""
    if name not in FAMILIES:
        raise ValueError(f"no identity family is named {name!r}; known: {sorted(FAMILIES)}")
    return _family_pair(FAMILIES[name], bases)
