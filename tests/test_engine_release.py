"""publish-staging, publish-main, verify and plan through the module's functions, on real parts.

The Dagger side is the stand-in (validate, builds and the smoke test are
answered; a push is a real push of a small image, labelled with the commit,
to a real docker-registry). Every release operation is the ``metaboost-ci``
command the module runs in its tools container, run here for real
(``tests.support.local_cli.run_exec``: the exec's argv, its environment with
the secret variables, the monorepo as ``--source``): the GitHub emulator over
a bare Git repository holds the tags and releases, and the registry holds the
tags the flows read, move and copy. A failure reaches the caller as
``dagger call`` shows it: a ``FunctionError`` with the command line's sentence.
"""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError

from metaboost_ci.core.apps import DEFAULT_APPS
from metaboost_ci.core.redact import redact
from metaboost_ci.engine.main import MetaboostCi
from metaboost_ci.engine.tools import MONOREPO_DIR, RUN_VARIABLE
from tests.support.dagger_offline import Call, PlayedApps, StandInSession, args_of, env_of, execs
from tests.support.images import REVISION_LABEL, push_image
from tests.support.local_cli import run_exec
from tests.support.release import REPOSITORY, ReleaseWorld
from tests.test_engine_bump import SampleFiles
from tests.test_engine_rehearse import RELEASE_COMMANDS

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
CHANGELOG = (SAMPLE / "docs/development/CHANGELOGS/0.1.0.md").read_text(encoding="utf-8")


class Engine:
    """The stand-in as the engine: pushes land on the world's real registry."""

    def __init__(self, session: StandInSession, world: ReleaseWorld) -> None:
        self.session = session
        self.world = world
        self.pushed: list[str] = []
        # The tools container's commands, and the run id each exec carried.
        self.commands: list[list[str]] = []
        self.run_ids: set[str] = set()
        self.apps = PlayedApps(session)
        SampleFiles(session)
        session.respond("Container.publish", self.publish)
        session.respond("Container.stdout", self.stdout)

    def stdout(self, calls: list[Call]) -> str:
        if self.apps.is_probe(calls):
            return self.apps.stdout(calls)
        assert execs(calls)[-1][0] == "metaboost-ci"
        self.run_ids.add(env_of(calls)[RUN_VARIABLE])
        swap = {MONOREPO_DIR: str(SAMPLE)}
        return run_exec(self.session, calls, swap=swap, cwd=SAMPLE, seen=self.commands)

    def publish(self, calls: list[Call]) -> str:
        address = calls[-1].args["address"]
        host, _, rest = address.partition("/")
        assert host == self.world.via.url.removeprefix("http://")
        name, _, tag = rest.partition(":")
        revision = dict((a["name"], a["value"]) for a in args_of(calls, "withLabel"))[
            REVISION_LABEL
        ]
        image = push_image(self.world.origin, name, tag, labels={REVISION_LABEL: revision})
        self.pushed.append(address)
        return f"{address}@{image.digest}"


def module(world: ReleaseWorld) -> MetaboostCi:
    return MetaboostCi(
        source=dag.directory(),
        registry=world.via.url,
        repository=REPOSITORY,
        github_api_url=world.github.api_url,
    )


async def test_publish_staging_then_main_through_the_module(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    engine = Engine(dagger_standin, world)
    commit = world.commit()
    token = dag.set_secret("github-token", world.github.token)

    staging = await module(world).publish_staging(commit=commit, github_token=token)

    assert sorted(a.rsplit("/", 1)[1] for a in engine.pushed) == sorted(
        f"{app}:0.1.0-staging.0" for app in DEFAULT_APPS
    )
    assert world.git_tags()["0.1.0-staging.0"] == commit
    assert world.digests("staging") == world.digests("0.1.0-staging.0")
    [release] = world.github.releases.values()
    assert (release["tag_name"], release["prerelease"]) == ("0.1.0-staging.0", True)
    assert release["body"] == CHANGELOG  # read from the source Directory
    assert "### Published 0.1.0-staging.0" in staging
    for app, digest in world.digests("0.1.0-staging.0").items():
        assert f"| {app} |" in staging
        assert str(digest) in staging

    main = await module(world).publish_main(commit=commit, github_token=token)

    assert world.digests("0.1.0") == world.digests("0.1.0-staging.0") == world.digests("latest")
    assert world.git_tags()["0.1.0"] == commit
    assert {r["tag_name"]: r["prerelease"] for r in world.github.releases.values()} == {
        "0.1.0-staging.0": True,
        "0.1.0": False,
    }
    assert "### Published 0.1.0" in main
    # No rebuild on main: the only pushes were staging's.
    assert len(engine.pushed) == len(DEFAULT_APPS)
    # Each function call is one run: its commands all carried its own id.
    assert len(engine.run_ids) == 2
    assert [c[10] for c in engine.commands] == RELEASE_COMMANDS


async def test_a_dry_run_writes_nothing_anywhere(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    engine = Engine(dagger_standin, world)
    commit = world.commit()
    before = world.snapshot()
    token = dag.set_secret("github-token", world.github.token)
    summary = await module(world).publish_staging(commit=commit, github_token=token, dry_run=True)
    assert engine.pushed == []
    assert world.snapshot() == before
    assert "Dry run" in summary
    assert "0.1.0-staging.0" in summary


async def test_without_a_repository_nothing_is_read_or_built(
    dagger_standin: StandInSession,
) -> None:
    with pytest.raises(FunctionError, match="--repository"):
        await MetaboostCi(source=dag.directory()).publish_staging(
            commit="0" * 40, github_token=dag.set_secret("t", "token-value")
        )
    assert dagger_standin.queries == []


async def test_verify_and_plan_read_the_registry_and_write_nothing(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    Engine(dagger_standin, world)
    commit = world.commit()
    await anyio.run_process(["git", "--git-dir", str(world.bare), "tag", "0.1.0-staging.0", commit])
    pushed = world.push_build("0.1.0-staging.0", commit)
    for app, image in pushed.items():
        world.retag(app, image, "staging")
    token = dag.set_secret("github-token", world.github.token)
    before = world.snapshot()

    verified = await module(world).verify(version="0.1.0-staging.0", float_tag="staging")
    assert verified.startswith(f"Verified 0.1.0-staging.0 and staging on {len(DEFAULT_APPS)} apps:")
    for app, image in pushed.items():
        assert f"/{REPOSITORY}/{app}@{image.digest}" in verified

    staging = await module(world).plan(commit=commit, staging=True, github_token=token)
    assert staging.startswith(f"publish-staging would reserve 0.1.0-staging.1 at {commit}")
    main = await module(world).plan(commit=commit, github_token=token)
    assert main.startswith("publish-main would promote 0.1.0-staging.0 to 0.1.0 and latest")
    assert f"  web: {world.via.host}/{REPOSITORY}/web@{pushed['web'].digest} (copy)" in main
    assert world.snapshot() == before


async def test_verify_names_every_missing_tag(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    Engine(dagger_standin, world)
    world.push_build("0.1.0-staging.0", world.commit(), apps=("api", "web"))
    with pytest.raises(FunctionError) as failed:
        await module(world).verify(version="0.1.0-staging.0")
    missing = sorted(re.findall(rf"/{REPOSITORY}/([a-z-]+):", str(failed.value)))
    assert missing == sorted(set(DEFAULT_APPS) - {"api", "web"})


OVERRIDE = "0.1.0-staging.3"


async def test_an_override_onto_another_commits_images_is_refused_before_any_write(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    engine = Engine(dagger_standin, world)
    other = world.commit("an earlier build")
    world.push_build(OVERRIDE, other, apps=("api", "web"))
    world.push_build(OVERRIDE, None, apps=("management-api",))  # no revision label
    commit = world.commit()
    puts_before = [e for e in world.origin.access_log() if e.method == "PUT"]
    before = world.snapshot()
    token = dag.set_secret("github-token", world.github.token)

    with pytest.raises(FunctionError, match="refusing before any push") as failed:
        await module(world).publish_staging(
            commit=commit, github_token=token, version_override=OVERRIDE
        )

    problems = str(failed.value)
    for app in ("api", "web"):
        assert f"/{REPOSITORY}/{app}:{OVERRIDE} was built from {other}, not {commit}." in problems
    assert f"/{REPOSITORY}/management-api:{OVERRIDE} has no {REVISION_LABEL} label" in problems
    assert problems.endswith("\nFix: Choose another N with --version-override, or omit it.")
    assert engine.pushed == []
    assert [e for e in world.origin.access_log() if e.method == "PUT"] == puts_before
    # Nothing at all: not even the Git tag the reservation would have made.
    assert world.snapshot() == before
    assert OVERRIDE not in world.git_tags()


async def test_an_override_onto_this_commits_images_keeps_them_and_publishes_the_rest(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    engine = Engine(dagger_standin, world)
    commit = world.commit()
    kept = world.push_build(OVERRIDE, commit, apps=("api", "web"))
    token = dag.set_secret("github-token", world.github.token)

    summary = await module(world).publish_staging(
        commit=commit, github_token=token, version_override=OVERRIDE
    )

    assert sorted(a.rsplit("/", 1)[1] for a in engine.pushed) == sorted(
        f"{app}:{OVERRIDE}" for app in DEFAULT_APPS if app not in kept
    )
    digests = world.digests(OVERRIDE)
    assert {app: digests[app] for app in kept} == {a: i.digest for a, i in kept.items()}
    assert world.digests("staging") == digests
    assert world.git_tags()[OVERRIDE] == commit
    assert "Kept (already published, not pushed again): api, web." in summary


async def test_a_registry_username_equal_to_the_owner_does_not_mask_image_names(
    dagger_standin: StandInSession, world: ReleaseWorld
) -> None:
    # In Actions GITHUB_ACTOR is often the owner: masked, it would turn every
    # image name the module prints into ***/metaboost/app.
    owner = REPOSITORY.split("/")[0]
    Engine(dagger_standin, world)
    world.push_build("0.1.0-staging.0", world.commit(), apps=("api",))
    with pytest.raises(FunctionError) as failed:
        await module(world).verify(version="0.1.0-staging.0", registry_username=owner)
    assert f"{world.via.host}/{REPOSITORY}/web:0.1.0-staging.0 does not exist." in str(failed.value)
    assert redact(f"ghcr.io/{REPOSITORY}/api") == f"ghcr.io/{REPOSITORY}/api"
