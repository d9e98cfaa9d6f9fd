"""docs/publish.md's incident runbook, run line by line.

Every line of the code blocks between ``<!-- runbook:start -->`` and
``<!-- runbook:end -->`` is a ``metaboost-ci`` command; they run in order
against a real registry, a real Git remote (or the GitHub emulator), in the
story the runbook tells: ``1.3.0`` is on ``latest`` and broken, ``1.2.0`` was
good, ``1.3.1`` is the fix. Between the blocks the test plays what happens
outside the command line (the fix published to staging).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import anyio

from metaboost_ci.core.flows import promote
from tests.support.gitrepo import git_in
from tests.support.images import PushedImage
from tests.support.release import APPS, ReleaseWorld, run_cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "publish.md"
GOOD, BAD, FIX = "1.2.0", "1.3.0", "1.3.1"


def runbook_blocks() -> list[list[str]]:
    """The runbook's code blocks, each a list of command lines."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("<!-- runbook:start -->", 1)[1].split("<!-- runbook:end -->", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [[line.strip() for line in block.splitlines() if line.strip()] for block in blocks]


def test_every_runbook_line_is_a_command_this_test_runs() -> None:
    blocks = runbook_blocks()
    # Setting the story between blocks depends on their number: a new block needs a look here.
    assert [len(b) for b in blocks] == [1, 3, 1, 4]
    assert all(line.startswith("metaboost-ci ") for block in blocks for line in block)


def publish(world: ReleaseWorld, version: str, *, seed: int) -> tuple[str, dict[str, PushedImage]]:
    """A monorepo commit of ``version``, its staging build (N = 0), staging moved to it."""
    commit = world.commit_files(
        {
            "package.json": json.dumps({"name": "metaboost", "version": version}),
            f"docs/development/CHANGELOGS/{version}.md": f"## {version}\n",
        },
        f"release {version}",
    )
    world.github.repos.remote_tag_create(f"{version}-staging.0", commit)
    build = world.push_build(f"{version}-staging.0", commit, seed=seed)
    for app in APPS:
        world.retag(app, build[app], "staging")
    return commit, build


def incident(world: ReleaseWorld) -> dict[str, dict[str, PushedImage]]:
    """GOOD then BAD published and promoted: BAD is on latest (and staging)."""
    builds: dict[str, dict[str, PushedImage]] = {}

    async def release_all() -> None:
        async with world.context() as ctx:
            for n, version in enumerate((GOOD, BAD)):
                commit, builds[version] = publish(world, version, seed=400 + n)
                await promote(ctx, commit=commit, base=version, notes=f"## {version}\n")

    anyio.run(release_all)
    return builds


def digests(build: dict[str, PushedImage]) -> dict[str, str | None]:
    return {app: image.digest for app, image in build.items()}


def test_the_incident_runbook_runs(any_world: ReleaseWorld) -> None:
    world = any_world
    builds = incident(world)
    said: list[str] = []
    for number, block in enumerate(runbook_blocks(), start=1):
        if number == 4:
            # Outside the command line: the fix is bumped, synced and staged.
            builds[FIX] = publish(world, FIX, seed=402)[1]
        for line in block:
            head = git_in(world.work, "rev-parse", "HEAD").stdout.strip()
            argv = shlex.split(line.replace('"$(git rev-parse HEAD)"', head))[1:]
            result = run_cli([*world.cli_options(), *argv], env=world.env(), cwd=world.work)
            assert result.code == 0, f"{line}\n{result.all_output}"
            said.append(result.out)
    first, _, rolled, confirmed, staging, pending, dry, promoted, final = said
    assert f"Highest release: {BAD}." in first
    assert f"api: {BAD} -> {GOOD}" in rolled
    assert f"Rolled back: latest is held at {GOOD}" in confirmed
    assert f"api: {BAD}-staging.0 -> {GOOD}-staging.0" in staging
    assert f"Pending promotion: {FIX}-staging.0." in pending
    assert "Dry run: would promote" in dry
    assert f"Promoted {FIX}-staging.0 to {FIX} and latest." in promoted
    assert "Rolled back" not in final
    assert "Consistent." in final
    assert world.digests("latest") == digests(builds[FIX])
    if world.store == "github":
        latest = world.github.releases[world.github.latest_release_id or 0]
        assert latest["tag_name"] == FIX
