"""What a newcomer meets first: ``--help``, where errors put the fix, and the
Git tag store pushing from the checkout named by ``--source``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaboost_ci.cli.main import build_parser
from tests.support.release import REPOSITORY, ReleaseWorld, WorldFactory, run_cli

RELEASE_COMMANDS = ("reserve", "discover", "verify", "move-floating", "release", "promote")
GLOBAL_TITLE = "global options (also accepted before the command):"


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [*RELEASE_COMMANDS, "summary"])
def test_a_command_help_shows_its_own_options_first(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    text = help_text(capsys, command)
    own, _, shared = text.partition(GLOBAL_TITLE)
    assert shared, text
    # Its own options under "options:", the shared ones after them, then the
    # environment it reads and the exit codes.
    assert "--registry REGISTRY" not in own.split("options:", 1)[1]
    assert "--git-remote GIT_REMOTE" in shared
    assert "GHCR_REGISTRY_TOKEN, else GITHUB_TOKEN" in shared
    assert "exit codes: 0 success; 1" in shared


def test_top_level_help_names_the_environment_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text(capsys)
    for name in ("GHCR_REGISTRY_TOKEN", "REGISTRY_USERNAME", "GITHUB_TOKEN", "GITHUB_OUTPUT"):
        assert name in text
    assert "2 bad input" in text
    assert "from --source or else the current" in text  # where --git-remote pushes from


def test_the_fix_of_a_list_of_problems_is_on_its_own_line(world: ReleaseWorld) -> None:
    result = run_cli(
        [*world.cli_options(), "verify", "--version", "9.9.9-staging.1"], env=world.env()
    )
    assert result.code == 1
    lines = result.err.splitlines()
    fix = next(i for i, line in enumerate(lines) if "Fix: " in line)
    assert lines[fix].startswith("Fix: Push the missing images")
    assert lines[fix - 1].endswith(" does not exist.")


def test_a_bad_version_is_refused_before_any_request(world: ReleaseWorld) -> None:
    before = len(world.origin.access_log())
    result = run_cli([*world.cli_options(), "verify", "--version", "stagin"], env=world.env())
    assert result.code == 2, result.all_output
    assert "Fix: Give the immutable version tag" in result.err
    assert len(world.origin.access_log()) == before


def test_git_remote_pushes_the_tag_from_the_source_checkout(
    world_factory: WorldFactory, tmp_path: Path
) -> None:
    world = world_factory("git")
    commit = world.commit_files({"package.json": json.dumps({"version": "2.0.0"})})
    env = world.env()
    del env["GITHUB_TOKEN"]
    elsewhere = tmp_path / "not-a-checkout"
    elsewhere.mkdir()
    argv = [*world.cli_options(), "--json", "reserve", "--commit", commit]

    # Started outside any checkout: refused, naming the directory.
    refused = run_cli(argv, env=env, cwd=elsewhere)
    assert refused.code == 2, refused.all_output
    assert str(elsewhere) in refused.err
    assert world.git_tags() == {}

    # --source names the checkout: package.json and the tag both come from it.
    reserved = run_cli([*argv, "--source", str(world.work)], env=env, cwd=elsewhere)
    assert reserved.code == 0, reserved.all_output
    assert reserved.json()["version"] == "2.0.0-staging.0"
    assert world.git_tags() == {"2.0.0-staging.0": commit}

    # --base-version does not take the place of --source: both can be given.
    other = run_cli(
        [*argv, "--base-version", "2.1.0", "--source", str(world.work)], env=env, cwd=elsewhere
    )
    assert other.code == 0, other.all_output
    assert world.git_tags()["2.1.0-staging.0"] == commit


def test_the_digest_table_names_the_images_once(world: ReleaseWorld) -> None:
    version = "1.0.0-staging.0"
    pushed = world.push_build(version, None)
    result = run_cli([*world.cli_options(), "verify", "--version", version], env=world.env())
    assert result.code == 0, result.all_output
    lines = result.out.splitlines()
    assert lines[1].split() == ["app", "tags", "digest"]
    assert lines[-1] == f"Images: {world.via.host}/{REPOSITORY}/<app>"
    # One row per app, its digest whole (people copy it); no host repeated per row.
    for app, image in pushed.items():
        row = next(line for line in lines if line.startswith(f"{app} "))
        assert row.split() == [app, version, image.digest]
    assert max(len(line) for line in lines) < 130


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    from metaboost_ci.cli.main import main

    project = tomllib.loads(
        (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    )["project"]
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"metaboost-ci {project['version']}\n"


def test_the_version_is_looked_up_only_when_asked() -> None:
    import subprocess
    import sys

    # importlib.metadata and the lookup cost every command ~70 ms of start-up.
    code = (
        "import sys\n"
        "from metaboost_ci.cli.main import build_parser\n"
        "build_parser().parse_args(['status'])\n"
        "print('importlib.metadata' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("command", ["bump-version", "sync"])
def test_the_developer_commands_help_lists_environment_and_exit_codes(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    text = help_text(capsys, command)
    assert "\nenvironment" in text
    assert "exit codes: 0 success; 1" in text


def test_discovers_source_help_speaks_of_what_discover_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text(capsys, "discover")
    own = text.partition(GLOBAL_TITLE)[0]
    source = own[own.index("--source SOURCE") :]
    assert "package.json gives X.Y.Z" in source
    for unrelated in ("--commit", "pushed", "changelog"):
        assert unrelated not in source
