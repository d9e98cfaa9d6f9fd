"""``metaboost-ci status`` and ``rollback`` end to end: real registry, emulator, real Git."""

from __future__ import annotations

import anyio
import pytest

from tests.support.release import APPS, ReleaseWorld, WorldFactory, run_cli
from tests.test_flows_rollback import NEW, OLD, two_releases


def cli(world: ReleaseWorld, *args: str) -> list[str]:
    return [*world.cli_options(), *args]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["rollback", "--to", f"{OLD}-staging.0"], "is a staging build, and latest only"),
        (["rollback", "--to", "3.1"], "is not a release version X.Y.Z"),
        (["rollback", "--to", "v3.1.0"], "is not a release version X.Y.Z"),
        (["rollback", "--float-tag", "staging", "--to", OLD], "is not a staging version"),
        (["rollback", "--float-tag", "prod", "--to", OLD], "is not a floating tag"),
        (["status", "--base-version", "3.1"], "is not of the form X.Y.Z"),
    ],
)
def test_bad_input_exits_2_before_any_request(
    world: ReleaseWorld, args: list[str], said: str
) -> None:
    before = len(world.origin.access_log())
    result = run_cli(cli(world, "--json", *args), env=world.env(), cwd=world.work)
    assert result.code == 2, result.all_output
    assert said in result.json()["error"]["message"]
    assert world.github.requests == []
    assert len(world.origin.access_log()) == before


def test_an_unknown_version_exits_2_and_writes_nothing(world: ReleaseWorld) -> None:
    anyio.run(two_releases, world)
    before = world.snapshot()
    result = run_cli(cli(world, "rollback", "--to", "9.9.9"), env=world.env(), cwd=world.work)
    assert result.code == 2, result.all_output
    assert "No app has 9.9.9" in result.err
    assert world.snapshot() == before


def test_rollback_says_per_app_from_which_version_to_which(
    world_factory: WorldFactory,
) -> None:
    world = world_factory("git")
    anyio.run(two_releases, world)
    env = world.env()
    del env["GITHUB_TOKEN"]  # a Git remote as the tag store needs no API token
    result = run_cli(cli(world, "rollback", "--to", OLD), env=env, cwd=world.work)
    assert result.code == 0, result.all_output
    for app in APPS:
        assert f"  {app}: {NEW} -> {OLD}\n" in result.out
    assert f"Rollback record rollback/latest/0/{OLD}/{NEW}: created." in result.out
    again = run_cli(cli(world, "--json", "rollback", "--to", OLD), env=env, cwd=world.work)
    assert again.code == 0, again.all_output
    document = again.json()
    assert document["changed"] is False
    assert document["moved"] == []
    assert document["record"] == {"action": "unchanged", "tag": f"rollback/latest/0/{OLD}/{NEW}"}


def test_status_exit_codes_json_and_markdown(world: ReleaseWorld) -> None:
    lines = anyio.run(two_releases, world)
    ok = run_cli(cli(world, "--json", "status"), env=world.env())
    assert ok.code == 0, ok.all_output
    document = ok.json()
    assert document["consistent"] is True
    assert document["floating"]["latest"] == dict.fromkeys(APPS, NEW)
    assert document["highest_release"] == NEW
    assert document["github_latest_release"] == NEW
    api = document["apps"]["api"]["latest"]
    assert api["digest"] == lines[NEW].digests["api"]
    assert api["revision"] == lines[NEW].commit
    assert api["version"] == NEW
    assert api["created"]
    assert document["git_tags"][NEW] == lines[NEW].commit

    markdown = run_cli(cli(world, "status", "--markdown"), env=world.env())
    assert markdown.code == 0, markdown.all_output
    assert markdown.out.startswith("### Release status: consistent\n")
    assert f"| web | - | {NEW} | `{lines[NEW].digests['web']}` |" in markdown.out

    # One app's latest moved back by hand: inconsistent, exit 1 (a job can alert on it).
    world.retag("web", lines[OLD].build["web"], "latest")
    mixed = run_cli(cli(world, "status"), env=world.env())
    assert mixed.code == 1, mixed.all_output
    assert f"latest names a mix across apps: {NEW} on api, management-api, web-sidecar" in mixed.out
    assert f"{OLD} on web." in mixed.out
    assert "Inconsistent (2 problem(s)):" in mixed.out
    assert "{" not in mixed.out  # a table for people, not JSON
