"""``dagger call status`` and ``rollback``: the command line's own, through the module.

As in ``test_engine_release``, the Dagger side is the stand-in and every
``metaboost-ci`` command the module runs in its tools container runs here
for real against a real docker-registry and the GitHub emulator over a bare
Git repository. ``status`` runs with ``expect: ANY`` (its exit code 1 says
"inconsistent"), so the stand-in answers ``exitCode`` and ``stdout`` of that
exec from one run of the command.
"""

from __future__ import annotations

import json

import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError

from metaboost_ci.engine.tools import MONOREPO_DIR, RUN_VARIABLE
from tests.support.dagger_offline import Call, StandInSession, args_of, env_of, execs
from tests.support.local_cli import CliRun, chain_env, clean_env, run_cli
from tests.support.release import APPS, ReleaseWorld
from tests.test_engine_release import SAMPLE, Engine, module
from tests.test_flows_rollback import NEW, OLD, two_releases


class OperatingEngine(Engine):
    """``Engine``, also answering execs a function lets fail (``expect: ANY``)."""

    def __init__(self, session: StandInSession, world: ReleaseWorld) -> None:
        super().__init__(session, world)
        self.runs: dict[str, CliRun] = {}
        session.respond("Container.exitCode", lambda calls: self.any_run(calls).code)

    @staticmethod
    def expects_any(calls: list[Call]) -> bool:
        exec_args = args_of(calls, "withExec")
        return bool(exec_args) and str(exec_args[-1].get("expect", "")).endswith("ANY")

    def any_run(self, calls: list[Call]) -> CliRun:
        assert self.expects_any(calls)
        argv = [{MONOREPO_DIR: str(SAMPLE)}.get(a, a) for a in execs(calls)[-1]]
        key = json.dumps([argv, env_of(calls)[RUN_VARIABLE]])
        if key not in self.runs:  # exitCode, then stdout: one run of the command
            self.commands.append(argv)
            self.runs[key] = run_cli(
                argv, cwd=SAMPLE, env=clean_env(chain_env(self.session, calls))
            )
        return self.runs[key]

    def stdout(self, calls: list[Call]) -> str:
        if not self.apps.is_probe(calls) and self.expects_any(calls):
            return self.any_run(calls).out
        return super().stdout(calls)


async def test_status_reports_and_fails_when_inconsistent(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    OperatingEngine(dagger_standin, world)
    lines = await two_releases(world)
    github = dag.set_secret("github-token", world.github.token)

    table = await module(world).status(github_token=github)
    assert "Consistent." in table
    assert all(f"{app} " in table for app in APPS)
    document = json.loads(await module(world).status(github_token=github, format="json"))
    assert document["consistent"] is True
    assert document["floating"]["latest"] == dict.fromkeys(APPS, NEW)

    # latest moved back on one app by hand: the call fails, its message the report.
    world.retag("api", lines[OLD].build["api"], "latest")
    with pytest.raises(FunctionError) as failed:
        await module(world).status(github_token=github, format="markdown")
    report = str(failed.value)
    assert "api" in report
    assert OLD in report
    assert "Traceback" not in report
    with pytest.raises(FunctionError) as as_json:
        await module(world).status(github_token=github, format="json")
    assert json.loads(str(as_json.value))["consistent"] is False


async def test_rollback_through_the_module_dry_run_then_for_real(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    engine = OperatingEngine(dagger_standin, world)
    lines = await two_releases(world)
    github = dag.set_secret("github-token", world.github.token)
    before = world.snapshot()

    planned = await module(world).rollback(to=OLD, github_token=github, dry_run=True)
    assert world.snapshot() == before
    for app in APPS:
        assert f"  {app}: {NEW} -> {OLD}" in planned

    done = json.loads(await module(world).rollback(to=OLD, github_token=github, json=True))
    assert done["changed"] is True
    assert world.digests("latest") == lines[OLD].digests
    assert f"rollback/latest/0/{OLD}/{NEW}" in world.git_tags()
    # Each call ran the command line's own rollback in the tools container.
    assert [c[c.index("rollback") :][:3] for c in engine.commands] == [
        ["rollback", "--to", OLD]
    ] * 2


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"to": f"{OLD}-staging.0"}, "is a staging build, and latest only"),
        ({"to": "3.1"}, "is not a release version X.Y.Z"),
        ({"to": OLD, "float_tag": "prod"}, "is not a floating tag"),
    ],
)
async def test_rollback_refuses_bad_input_before_any_query(
    dagger_standin: StandInSession, world: ReleaseWorld, kwargs: dict[str, str], said: str
) -> None:
    github = dag.set_secret("github-token", "unused")
    with pytest.raises(FunctionError, match=said):
        await module(world).rollback(github_token=github, **kwargs)
    assert [q for q in dagger_standin.queries if "setSecret" not in q.text] == []


async def test_status_refuses_an_unknown_format_before_any_query(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    with pytest.raises(FunctionError, match="--format 'yaml' is not one of table, markdown, json"):
        await module(world).status(format="yaml")
    assert dagger_standin.queries == []
