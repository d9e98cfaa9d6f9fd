"""The release core and the command line must never import dagger."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE_FREE = [
    "metaboost_ci",
    "metaboost_ci.core",
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
    [PACKAGE / "__init__.py", *(PACKAGE / "core").rglob("*.py"), *(PACKAGE / "cli").rglob("*.py")]
)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports anywhere, relative imports resolved."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    else:
        package = package.removesuffix(".__init__")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
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
    # The scan can fail: it finds the engine's own dagger imports.
    assert "dagger" in imported_modules(PACKAGE / "engine" / "main.py")


@pytest.mark.parametrize(
    "path", ENGINE_FREE_SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix()
)
def test_no_engine_free_source_imports_dagger_or_the_engine(path: Path) -> None:
    assert forbidden(imported_modules(path)) == []
