"""core.gitrun.run_git: the one git runner, and that nothing under ci/ runs git otherwise."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from metaboost_ci.core.errors import ConfigError
from metaboost_ci.core.gitrun import run_git
from tests.support.gitrepo import GitRepos

PACKAGE = Path(__file__).resolve().parents[1] / "ci" / "metaboost_ci"
SPAWNERS = {"run_process", "open_process", "run", "Popen", "create_subprocess_exec"}


async def test_output_is_kept_as_bytes_and_messages_are_in_the_c_locale(
    git_repos: GitRepos,
) -> None:
    head = await run_git("rev-parse", "HEAD", cwd=git_repos.work)
    assert head.returncode == 0
    assert head.output.strip().decode() == head.stdout.strip() == git_repos.git("rev-parse", "HEAD")
    missing = await run_git("rev-parse", "--verify", "no-such-ref", cwd=git_repos.work)
    assert missing.returncode != 0
    assert "fatal: Needed a single revision" in missing.stderr


async def test_a_missing_directory_is_named_not_blamed_on_git(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a directory") as raised:
        await run_git("status", cwd=tmp_path / "absent")
    assert str(tmp_path / "absent") in str(raised.value)


def _spawns_git(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name not in SPAWNERS or not call.args or not isinstance(call.args[0], ast.List):
        return False
    first = call.args[0].elts[:1]
    return bool(first) and isinstance(first[0], ast.Constant) and first[0].value == "git"


def test_git_runs_only_through_run_git_and_never_synchronously() -> None:
    spawning: list[str] = []
    sync_subprocess: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(PACKAGE))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _spawns_git(node):
                spawning.append(where)
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if "subprocess" in names:
                    sync_subprocess.append(where)
    assert spawning == ["core/gitrun.py"]
    # Every caller is async code: a blocking subprocess would stall the others.
    assert sync_subprocess == []
