"""Every release operation, run by ``CliOps`` inside the tools image built from the lock.

The tools image is built with buildah from ``tools_image``'s own steps
(tests/support/tools_image.py: a python:3.11-slim stand-in from this
machine's CPython, pip installs uv, ``uv sync --locked --no-dev
--no-editable`` installs this project and its locked dependencies from the
package index; the Debian step is left out). Then ``CliOps``, production's
ops, runs each command in a container of that image, as the engine would:
the ``CliTarget`` of publish-staging/publish-main (a registry, the GitHub
API), the token and this run's id in the exec's environment, the monorepo
(the sample) mounted at ``/work/monorepo``. The registry is a real
docker-registry and the GitHub API the emulator over a bare Git repository
(chroot isolation shares the host's network). Needs root, buildah and the
package index; skipped without buildah (a failure with
METABOOST_REQUIRE_BUILDAH=1).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS
from metaboost_ci.core.errors import InputError
from metaboost_ci.engine.node import RUN_VARIABLE
from metaboost_ci.engine.tools import (
    GITHUB_TOKEN_VARIABLE,
    MONOREPO_DIR,
    CliOps,
    CliTarget,
    command_failure,
)
from tests.support.containers import Buildah, buildah_home
from tests.support.release import REPOSITORY, ReleaseWorld
from tests.support.tools_image import (
    TOOLS_TAG,
    build_python_standin,
    build_tools_image,
    project_context,
)

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
CHANGELOG = (SAMPLE / "docs/development/CHANGELOGS/0.1.0.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tools() -> Iterator[Buildah]:
    """A buildah storage holding the tools image, built once for this module."""
    with buildah_home("metaboost-tools-") as buildah:
        build_python_standin(buildah, buildah.home / "python-standin")
        build_tools_image(buildah, project_context(buildah.home / "context"))
        yield buildah


@dataclass
class InContainer:
    """``tools.Cli`` with each command run in a container of the tools image."""

    buildah: Buildah
    target: CliTarget
    env: dict[str, str]
    commands: list[list[str]] = field(default_factory=lambda: [])

    def __post_init__(self) -> None:
        self.container = self.buildah.container(TOOLS_TAG)

    async def run(self, *args: str) -> dict[str, Any]:
        self.commands.append(list(args))
        argv = self.buildah.run_argv(
            self.container,
            ["metaboost-ci", *self.target.global_args(), *args],
            f"--volume={SAMPLE}:{MONOREPO_DIR}:ro",
            f"--workingdir={MONOREPO_DIR}",
            *(f"--env={name}={value}" for name, value in self.env.items()),
        )
        done = await asyncio.to_thread(
            subprocess.run, argv, capture_output=True, text=True, timeout=180, check=False
        )
        if done.returncode != 0:
            raise command_failure(args[0], done.returncode, done.stdout, done.stderr)
        return cast(dict[str, Any], json.loads(done.stdout))


async def test_every_release_operation_runs_in_the_locked_tools_image(
    tools: Buildah, world: ReleaseWorld
) -> None:
    target = CliTarget(world.via.url, REPOSITORY, DEFAULT_APPS, world.github.api_url)
    cli = InContainer(
        tools, target, {GITHUB_TOKEN_VARIABLE: world.github.token, RUN_VARIABLE: "in-image"}
    )
    ops = CliOps(cli)
    commit = world.commit()

    version = await ops.reserve(commit=commit, base="0.1.0", override=None, dry_run=False)
    assert version == "0.1.0-staging.0"
    assert world.git_tags()[version] == commit
    assert await ops.present(version=version) == []  # nothing pushed yet

    pushed = {app: image.digest for app, image in world.push_build(version, commit).items()}
    kept = await ops.present(version=version)
    assert {k.app: k.revisions for k in kept} == {app: (commit,) for app in DEFAULT_APPS}
    assert await ops.verify(version=version, float_tag=None) == pushed
    await ops.move_floating(version=version, float_tag="staging")
    assert world.digests("staging") == pushed
    assert await ops.verify(version=version, float_tag="staging") == pushed

    line = await ops.release(tag=version, commit=commit, prerelease=True)
    assert version in line
    [release] = world.github.releases.values()
    assert release["prerelease"] is True
    assert release["body"] == CHANGELOG  # read from the monorepo mounted as --source

    main = await ops.promote(commit=commit, base="0.1.0", dry_run=False)
    assert main.notes[0] == "Git tag 0.1.0: created."
    assert {row.app: row.digest for row in main.images} == pushed
    assert world.digests("0.1.0") == world.digests("latest") == pushed
    assert world.git_tags()["0.1.0"] == commit
    assert [c[0] for c in cli.commands] == [
        "reserve",
        "discover",
        "discover",
        "verify",
        "verify",
        "move-floating",
        "verify",
        "release",
        "promote",
    ]


async def test_the_command_lines_refusal_comes_out_of_the_image_as_its_error(
    tools: Buildah, world: ReleaseWorld
) -> None:
    target = CliTarget(world.via.url, REPOSITORY, DEFAULT_APPS, world.github.api_url)
    ops = CliOps(InContainer(tools, target, {RUN_VARIABLE: "no-token"}))
    with pytest.raises(InputError) as failed:
        await ops.reserve(commit=world.commit(), base="0.1.0", override=None, dry_run=False)
    # No token: the command line's own input error (exit 2), its sentence and fix.
    assert "GITHUB_TOKEN" in str(failed.value)
    assert failed.value.fix
