"""The release core and the command line must never import dagger."""

import subprocess
import sys

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
