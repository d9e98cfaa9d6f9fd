"""rehearse with the real command line and a real registry; only the containers are stood in.

``run_rehearsal`` runs whole. Where the engine would run a ``metaboost-ci``
command in the tools container, this test runs that exact command line here,
as a process, in a Git clone of the sample, with two substitutions: the
container's registry alias becomes a real docker-registry, and the
container's throwaway remote becomes a bare repository in a temporary
directory. The engine's pushes become real pushes of small images to that
registry. So the command line's arguments, its JSON and the summary built
from it are checked against the real flows.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dagger import dag

from metaboost_ci.core.apps import DEFAULT_APPS
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.engine.pipeline import BuildPlan
from metaboost_ci.engine.rehearse import REMOTE_DIR, TOOLS_REGISTRY_URL, run_rehearsal
from metaboost_ci.engine.smoke import SmokeOptions
from metaboost_ci.engine.tools import MONOREPO_DIR, RUN_VARIABLE
from tests.support.dagger_offline import (
    Call,
    PlayedApps,
    StandInSession,
    args_of,
    env_of,
    execs,
)
from tests.support.images import REVISION_LABEL, push_image
from tests.support.local_cli import run_exec
from tests.support.registry_process import Registry
from tests.test_engine_bump import SAMPLE, SampleFiles
from tests.test_engine_rehearse import RELEASE_COMMANDS

REPOSITORY = "rehearsal/metaboost"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


class LocalTools:
    """Runs the tools container's commands here, on real parts."""

    def __init__(self, session: StandInSession, registry: Registry, tmp: Path) -> None:
        self.registry = registry
        self.remote = tmp / "remote.git"
        self.clone = tmp / "monorepo"
        shutil.copytree(SAMPLE, self.clone, ignore=shutil.ignore_patterns("node_modules", "dist"))
        env = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
        git(self.clone, "init", "-q", "-b", "main")
        git(self.clone, "add", "-A")
        git(self.clone, *env, "commit", "-q", "-m", "The rehearsed monorepo")
        git(tmp, "init", "-q", "--bare", str(self.remote))
        git(self.clone, "push", "-q", str(self.remote), "main")
        self.session = session
        self.swap = {
            TOOLS_REGISTRY_URL: registry.url,
            REMOTE_DIR: str(self.remote),
            MONOREPO_DIR: str(self.clone),
        }
        self.commands: list[list[str]] = []
        self.run_ids: list[str] = []
        self.apps = PlayedApps(session)
        SampleFiles(session)
        session.respond("Container.stdout", self.stdout)
        session.respond("Container.publish", self.publish)

    def publish(self, calls: list[Call]) -> str:
        address = calls[-1].args["address"]
        name, _, tag = address.removeprefix("localhost:5000/").partition(":")
        labels = {a["name"]: a["value"] for a in args_of(calls, "withLabel")}
        image = push_image(
            self.registry, name, tag, labels={REVISION_LABEL: labels[REVISION_LABEL]}
        )
        return f"{address}@{image.digest}"

    def stdout(self, calls: list[Call]) -> str:
        if self.apps.is_probe(calls):
            return self.apps.stdout(calls)
        if execs(calls)[-1][0] == "metaboost-ci":
            self.run_ids.append(env_of(calls)[RUN_VARIABLE])
            return run_exec(self.session, calls, swap=self.swap, cwd=self.clone, seen=self.commands)
        command = [self.swap.get(a, a) for a in execs(calls)[-1]]
        done = subprocess.run(command, cwd=self.clone, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command}:\n{done.stderr}"
        return done.stdout


async def test_the_rehearsal_drives_the_real_command_line(
    dagger_standin: StandInSession, registry: Registry, tmp_path: Path
) -> None:
    tools = LocalTools(dagger_standin, registry, tmp_path)
    plan = BuildPlan(
        source=dag.directory(),
        apps=DEFAULT_APPS,
        platforms=["linux/amd64"],
        repository=REPOSITORY,
        smoke=SmokeOptions(stay_seconds=1, run_id="r3"),
        run_id="r3",
    )
    report = await run_rehearsal(plan, module_source=dag.directory(), progress=RecordingProgress())

    commit = git(tools.clone, "rev-parse", "HEAD").strip()
    tags = dict(
        line.split("\t")[::-1]
        for line in git(tmp_path, "ls-remote", "--tags", str(tools.remote)).splitlines()
    )
    assert tags == {"refs/tags/0.1.0-staging.0": commit, "refs/tags/0.1.0": commit}
    assert [c[10] for c in tools.commands] == RELEASE_COMMANDS
    assert "### Published 0.1.0-staging.0" in report
    assert "### Published 0.1.0\n" in report
    assert f"{registry.host}/{REPOSITORY}/web" in report  # the promotion's summary, from its JSON
    assert "GitHub release 0.1.0-staging.0 skipped: the tag store is a Git remote" in report
    # Every command exec carried this run's id: none can be an earlier run's cached answer.
    assert tools.run_ids == ["r3"] * len(RELEASE_COMMANDS)
