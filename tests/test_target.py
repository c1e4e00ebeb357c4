"""The target registry: names resolve lazily through entry points; bad names are usage errors.

The bundled platform declares ``reference`` and the ``zoo:*`` family in the
``isolation_fuzz.targets`` entry-point group, as any plugin would; the registry
itself knows no target by name.  These tests hold it to that, to loading nothing
until asked, and to one-line errors (exit 2) for every name it cannot serve.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import isolation_fuzz.target as target
from isolation_fuzz.cli import main
from isolation_fuzz.errors import UsageError
from isolation_fuzz.platform.bugs import SEEDED_BUGS, TARGETS
from isolation_fuzz.platform.reference import open_reference_target
from isolation_fuzz.target import (
    ENTRY_POINT_GROUP,
    TargetSpec,
    available_targets,
    register_target,
    resolve_target,
)

UNKNOWN = ("nope", "zoo:nope", "zoo:runner", "zoo:__init__", "zoo:*", "zoo:", "Reference")


def _fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_importing_the_registry_imports_no_platform() -> None:
    loaded = _fresh(
        "import sys, isolation_fuzz.target\n"
        "print(sorted(m for m in sys.modules if m.startswith('isolation_fuzz.platform')))"
    )
    assert loaded == "[]"


def test_a_zoo_name_loads_the_platform_only_when_asked_for() -> None:
    loaded = _fresh(
        "import sys\n"
        "from isolation_fuzz.target import TargetSpec, resolve_target\n"
        "before = 'isolation_fuzz.platform.bugs' in sys.modules\n"
        "resolve_target(TargetSpec('zoo:lost_event'))\n"
        "print(before, 'isolation_fuzz.platform.bugs' in sys.modules)"
    )
    assert loaded == "False True"


def test_the_platform_is_declared_as_entry_points() -> None:
    assert (
        resolve_target(TargetSpec("reference")) is open_reference_target
    ), "reinstall with pip install -e . so the entry points exist"
    for bug in SEEDED_BUGS:
        assert resolve_target(TargetSpec(bug.target)) is bug.open_target


def test_available_targets_are_reference_and_the_zoo() -> None:
    assert {"reference", *TARGETS} <= set(available_targets())


@pytest.mark.parametrize("name", UNKNOWN)
def test_an_unknown_name_is_a_usage_error_naming_the_choices(name: str) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_target(TargetSpec(name))
    message = str(caught.value)
    assert message.startswith(f"unknown target {name!r}; choose one of ")
    assert "reference" in message
    assert "zoo:lost_event" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["zoo:nope", "zoo:runner"])
def test_the_cli_gives_one_line_and_exit_2_for_an_unknown_name(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--quiet", "--target", name]) == 2
    _, err = capsys.readouterr()
    assert err.startswith(f"isolation-fuzz: error: unknown target {name!r}")
    assert err.count("\n") == 1


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry with nothing registered and nothing loaded from entry points yet."""
    monkeypatch.setattr(target, "_REGISTRY", {})
    monkeypatch.setattr(target, "_FAMILIES_LOADED", set())


def _entry_points(monkeypatch: pytest.MonkeyPatch, **declared: str) -> None:
    entries = tuple(EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in declared.items())
    monkeypatch.setattr(target, "_entry_points", lambda: entries)


@pytest.mark.usefixtures("empty_registry")
def test_a_registered_name_comes_before_the_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, reference="isolation_fuzz.platform.reference:open_reference_target")
    mine = TARGETS["zoo:lost_event"]
    register_target("reference", mine)
    assert resolve_target(TargetSpec("reference")) is mine


@pytest.mark.usefixtures("empty_registry")
def test_a_family_serves_only_the_names_its_pattern_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _entry_points(
        monkeypatch,
        reference="isolation_fuzz.platform.reference:open_reference_target",
        **{"bugs:*": "isolation_fuzz.platform.bugs:TARGETS"},
    )
    with pytest.raises(UsageError, match=r"'zoo:lost_event'.*; choose one of reference, or give"):
        resolve_target(TargetSpec("zoo:lost_event"))


@pytest.mark.usefixtures("empty_registry")
@pytest.mark.parametrize(
    ("declared", "name", "shown"),
    [
        ({"gone": "isolation_fuzz.no_such_module:factory"}, "gone", "cannot be loaded"),
        ({"gone": "isolation_fuzz.target:no_such_factory"}, "gone", "cannot be loaded"),
        ({"data": "isolation_fuzz.platform.bugs:BUGS"}, "data", "not a target factory"),
        ({"fam:*": "isolation_fuzz.platform.bugs:BUGS"}, "fam:x", "not a mapping"),
        ({}, "reference", "no target is installed"),
    ],
)
def test_a_broken_declaration_is_a_one_line_usage_error(
    monkeypatch: pytest.MonkeyPatch, declared: dict[str, str], name: str, shown: str
) -> None:
    _entry_points(monkeypatch, **declared)
    with pytest.raises(UsageError, match=shown) as caught:
        resolve_target(TargetSpec(name))
    assert "\n" not in str(caught.value)


@pytest.mark.usefixtures("empty_registry")
def test_a_registered_import_path_that_does_not_exist_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _entry_points(monkeypatch)
    register_target("mine", "isolation_fuzz.target:no_such_factory")
    with pytest.raises(UsageError, match=r"'mine' .* cannot be loaded"):
        resolve_target(TargetSpec("mine"))


def test_an_import_path_loads_the_factory_it_names() -> None:
    path = "isolation_fuzz.platform.reference:open_reference_target"
    from isolation_fuzz.platform.reference import open_reference_target

    assert resolve_target(TargetSpec(path)) is open_reference_target


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("isolation_fuzz.no_such_module:factory", "no module 'isolation_fuzz.no_such_module'"),
        ("isolation_fuzz.target:no_such_factory", "has no attribute 'no_such_factory'"),
        ("isolation_fuzz.target:ENTRY_POINT_GROUP", "is a str, not a target factory"),
    ],
)
def test_a_bad_import_path_is_a_one_line_usage_error(name: str, shown: str) -> None:
    with pytest.raises(UsageError, match=re.escape(shown)) as caught:
        resolve_target(TargetSpec(name))
    assert "\n" not in str(caught.value)


class _ClassTarget:
    """A Target written as a class: constructed with what it names, closed at the end."""

    closed: list[str] = []  # noqa: RUF012 - the test reads it back

    def __init__(self, services: object, spec: TargetSpec) -> None:
        self.services = services
        self.spec = spec

    async def connect(self, token: str) -> object:
        raise NotImplementedError

    async def run(self, token: str, thread_id: str, plan: object, run_id: str) -> list[object]:
        return []

    async def residue(self, run_id: str) -> dict[str, list[str]]:
        return {}

    async def reset(self) -> None:
        return None

    async def aclose(self) -> None:
        self.closed.append(self.spec.name)


class _NotATarget:
    def __init__(self) -> None:
        pass


def test_a_target_class_is_constructed_with_what_it_names_and_closed() -> None:
    import anyio

    name = f"{__name__}:_ClassTarget"
    factory = resolve_target(TargetSpec(name))

    async def use() -> object:
        async with factory(TargetSpec(name), "the services", "the auth") as target:
            assert isinstance(target, _ClassTarget)
            assert target.services == "the services"
            return target

    anyio.run(use)
    assert _ClassTarget.closed == [name]


def test_a_class_without_the_target_methods_is_a_one_line_usage_error() -> None:
    with pytest.raises(UsageError, match=r"without the Target methods \['connect'") as caught:
        resolve_target(TargetSpec(f"{__name__}:_NotATarget"))
    assert "\n" not in str(caught.value)


def test_the_working_directory_goes_after_pythonpath_so_an_override_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from isolation_fuzz.target import importable_after_pythonpath

    override, cwd = tmp_path / "override", tmp_path / "project"
    monkeypatch.setenv("PYTHONPATH", str(override))
    monkeypatch.setattr(sys, "path", ["/script/dir", str(override), "/stdlib"])
    importable_after_pythonpath(str(cwd))
    assert sys.path == ["/script/dir", str(override), str(cwd), "/stdlib"]
    importable_after_pythonpath(str(cwd))  # once only
    assert sys.path.count(str(cwd)) == 1
    monkeypatch.delenv("PYTHONPATH")
    monkeypatch.setattr(sys, "path", ["/script/dir"])
    importable_after_pythonpath(str(cwd))
    assert sys.path == [str(cwd), "/script/dir"]
