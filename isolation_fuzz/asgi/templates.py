"""Filling a route's templates, and reading a value out of a JSON response.

A placeholder is ``{name}``; in a path each value is percent-encoded whole (a
thread id ``t/1`` must stay one path segment), in a query or a JSON body it is
sent as it is.  A JSON string that is exactly one placeholder becomes the value
itself; inside a longer string it is substituted as text.

A result path is dotted (``data.items.0.text``, an optional leading ``$.``); a
missing step is :class:`MissingField`, which the target reports as the app's
answer not having the declared shape, never as a finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["MissingField", "fill", "fill_path", "pick"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class MissingField(LookupError):
    """A response has no value at a declared path."""


def fill(template: Any, values: Mapping[str, str]) -> Any:
    """``template`` (a string, or JSON of strings) with its placeholders filled."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, Mapping):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def fill_path(template: str, values: Mapping[str, str]) -> str:
    """A URL path with each placeholder percent-encoded as one segment."""
    return _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), template)


def _index(step: str, length: int) -> int | None:
    if not step.lstrip("-").isdigit():
        return None
    return int(step) if -length <= int(step) < length else None


def pick(data: Any, path: str | None) -> Any:
    """The value at dotted ``path`` in ``data`` (all of it for None)."""
    if path is None or path in ("$", ""):
        return data
    steps = path.removeprefix("$.").split(".")
    here = data
    for step in steps:
        if isinstance(here, Mapping) and step in here:
            here = here[step]
        elif isinstance(here, list) and _index(step, len(here)) is not None:
            here = here[int(step)]
        else:
            raise MissingField(f"no {step!r} at {path!r}")
    return here
