"""The layers: the release core, the developer tools and the command line never
import dagger; the core imports nothing above it; the developer tools use no
release operation; no module imports itself through a circle."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE_FREE = [
    "metaboost_ci",
    "metaboost_ci.core",
    "metaboost_ci.devtools",
    "metaboost_ci.cli.main",
]


@pytest.mark.parametrize("module", ENGINE_FREE)
def test_module_does_not_import_dagger(module: str) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"m = importlib.import_module({module!r})\n"
        "if hasattr(m, '__path__'):\n"
        "    for info in pkgutil.walk_packages(m.__path__, m.__name__ + '.'):\n"
        "        if '.engine' not in info.name:\n"
        "            importlib.import_module(info.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'dagger' or n.startswith('dagger.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"{module} pulled in: {result.stdout.strip()}"


# Importing every module (above) misses an import inside a function body,
# which runs only when that function is called; read the source as well.
PACKAGE = Path(__file__).resolve().parents[1] / "ci" / "metaboost_ci"
ENGINE_FREE_SOURCES = sorted(
    [
        PACKAGE / "__init__.py",
        *(PACKAGE / "core").rglob("*.py"),
        *(PACKAGE / "devtools").rglob("*.py"),
        *(PACKAGE / "cli").rglob("*.py"),
    ]
)
ALL_SOURCES = sorted(PACKAGE.rglob("*.py"))


def import_statements(path: Path) -> list[tuple[str, list[str]]]:
    """Every import in ``path``, anywhere: (module, names taken from it), relative resolved.

    ``import a.b`` is ``("a.b", [])``; ``from .x import y`` in ``p/m.py`` is ``("p.x", ["y"])``.
    """
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    else:
        package = package.removesuffix(".__init__")
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.append((base, [alias.name for alias in node.names]))
    return found


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports anywhere (and every ``module.name`` it takes)."""
    found: set[str] = set()
    for base, names in import_statements(path):
        found.add(base)
        found.update(f"{base}.{name}" for name in names)
    return found


def forbidden(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if m == "dagger"
        or m.startswith("dagger.")
        or m == "metaboost_ci.engine"
        or m.startswith("metaboost_ci.engine.")
    )


def test_the_source_scan_sees_every_core_module_and_what_the_engine_imports() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in ENGINE_FREE_SOURCES}
    assert {"core/versions.py", "core/net/http.py", "core/registry/client.py"} <= names
    assert {"core/github/client.py", "core/flows/reserve.py", "cli/main.py"} <= names
    assert {"devtools/monorepo.py", "devtools/gitsync.py", "devtools/audit.py"} <= names
    # The scan can fail: it finds the engine's own dagger imports.
    assert "dagger" in imported_modules(PACKAGE / "engine" / "main.py")


@pytest.mark.parametrize(
    "path", ENGINE_FREE_SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix()
)
def test_no_engine_free_source_imports_dagger_or_the_engine(path: Path) -> None:
    assert forbidden(imported_modules(path)) == []


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def within(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


CORE_SOURCES = sorted((PACKAGE / "core").rglob("*.py"))
DEVTOOLS_SOURCES = sorted((PACKAGE / "devtools").rglob("*.py"))


@pytest.mark.parametrize("path", CORE_SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_release_core_imports_nothing_above_it(path: Path) -> None:
    """Not the command line, not the developer tools (bump-version, sync, audit)."""
    imported = imported_modules(path)
    assert within(imported, "metaboost_ci.cli") == []
    assert within(imported, "metaboost_ci.devtools") == []


# The release operations and what speaks to a registry or GitHub: the
# developer tools edit a checkout and push branches, and need none of it.
RELEASE_ONLY = (
    "metaboost_ci.core.flows",
    "metaboost_ci.core.registry",
    "metaboost_ci.core.github",
    "metaboost_ci.core.gitstore",
    "metaboost_ci.core.settings",
    "metaboost_ci.cli",
)


@pytest.mark.parametrize("path", DEVTOOLS_SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_developer_tools_use_no_release_operation(path: Path) -> None:
    imported = imported_modules(path)
    assert [m for package in RELEASE_ONLY for m in within(imported, package)] == []


def import_graph(sources: list[Path]) -> dict[str, set[str]]:
    """Module -> the modules of this package it imports, anywhere in its source.

    ``from package import name`` is an edge to the submodule when ``name`` is
    one, else to the package itself. An import inside a function counts: it
    only puts the circle off until the first call.
    """
    paths = {module_name(p): p for p in sources}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges: set[str] = set()
        for base, names in import_statements(path):
            submodules = {f"{base}.{n}" for n in names} & paths.keys()
            if submodules:
                edges |= submodules
            if len(submodules) < len(names) or not names:
                edges.add(base)
        graph[name] = (edges & paths.keys()) - {name}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_import_circle_among_the_modules() -> None:
    assert import_circles(import_graph(ALL_SOURCES)) == []


def test_the_circle_finder_finds_a_circle_and_reads_the_package() -> None:
    graph = import_graph(ALL_SOURCES)
    # It sees what the package imports: a relative import, a submodule by name.
    assert "metaboost_ci.core.errors" in graph["metaboost_ci.core.versions"]
    assert "metaboost_ci.cli.commands" in graph["metaboost_ci.cli.main"]
    # And it can fail: a back edge makes a circle.
    graph["metaboost_ci.core.errors"] = {"metaboost_ci.core.versions"}
    assert ["metaboost_ci.core.errors", "metaboost_ci.core.versions"] in import_circles(graph)


# The team's limit: a file longer than this holds more than one concern.
MAX_LINES = 450


def test_no_source_file_is_over_the_line_limit() -> None:
    counts = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in ALL_SOURCES
    }
    # It reads the real files, so it can fail.
    assert "engine/main.py" in counts
    assert max(counts.values()) > 100
    assert {name: n for name, n in counts.items() if n > MAX_LINES} == {}
