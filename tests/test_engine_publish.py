"""publish-staging's order, recorded with fakes; the engine's pushes, read from their queries."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagger
import pytest
from dagger import dag

from metaboost_ci.core.errors import CheckFailed, InputError, RemoteError
from metaboost_ci.core.flows import ImageRow, PublishSummary
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.engine.build import AppImage
from metaboost_ci.engine.ops import KeptImage
from metaboost_ci.engine.publish import (
    EnginePusher,
    RegistryAuth,
    StagingRequest,
    StagingSteps,
    digest_of,
    publish_main,
    publish_staging,
)
from tests.support.dagger_offline import Call, StandInSession, args_of, chain

SHA = "0123456789abcdef0123456789abcdef01234567"
APPS = ("api", "management-api", "web", "web-sidecar", "management-web", "management-web-sidecar")
VERSION = "1.2.0-staging.4"


def digest(app: str) -> str:
    return "sha256:" + (app.encode().hex() * 64)[:64]


@dataclass
class World:
    """Fakes for every step; ``events`` records what ran, in order."""

    events: list[tuple[str, ...]] = field(default_factory=lambda: [])
    present_apps: set[str] = field(default_factory=lambda: set())
    # The revision labels the present apps' images carry (None: unreadable).
    present_revisions: tuple[str, ...] = (SHA,)
    failing_push: str | None = None
    failing_smoke: bool = False
    registry_digests: dict[str, str] = field(default_factory=lambda: {})

    # -- steps
    async def validate(self) -> list[str]:
        self.events.append(("validate",))
        return ["ok  install"]

    async def build(self, version: str) -> list[AppImage]:
        self.events.append(("build", version))
        return [AppImage(app, ("linux/amd64",), (dag.container(),)) for app in APPS]

    async def smoke(self, images: list[AppImage]) -> list[str]:
        self.events.append(("smoke",))
        if self.failing_smoke:
            raise CheckFailed("The smoke test failed.", ["web: did not stay up"])
        return ["ok  web"]

    def steps(self) -> StagingSteps:
        return StagingSteps(self.validate, self.build, self.smoke)

    # -- Pusher
    def image(self, app: str) -> str:
        return f"ghcr.io/acme/metaboost/{app}"

    async def push(self, image: AppImage, tag: str) -> str:
        self.events.append(("push", image.app, tag))
        if image.app == self.failing_push:
            raise RemoteError("the registry answered 500")
        self.registry_digests[image.app] = digest(image.app)
        return digest(image.app)

    # -- ReleaseOps
    async def reserve(self, *, commit: str, base: str, override: str | None, dry_run: bool) -> str:
        self.events.append(("reserve", base, str(override), str(dry_run)))
        return override or VERSION

    async def present(self, *, version: str) -> list[KeptImage]:
        self.events.append(("present", version))
        for app in self.present_apps:
            self.registry_digests[app] = digest(app)
        return [KeptImage(app, self.present_revisions) for app in sorted(self.present_apps)]

    async def verify(self, *, version: str, float_tag: str | None) -> dict[str, str]:
        self.events.append(("verify", version, str(float_tag)))
        missing = [a for a in APPS if a not in self.registry_digests]
        if missing:
            raise CheckFailed("Verification failed.", missing)
        return dict(self.registry_digests)

    async def move_floating(self, *, version: str, float_tag: str) -> None:
        self.events.append(("move_floating", version, float_tag))

    async def release(self, *, tag: str, commit: str, prerelease: bool) -> str:
        self.events.append(("release", tag, str(prerelease)))
        return f"GitHub release {tag} created."

    async def promote(self, *, commit: str, base: str, dry_run: bool) -> PublishSummary:
        self.events.append(("promote", base, str(dry_run)))
        rows = tuple(ImageRow(a, self.image(a), (base, "latest"), digest(a)) for a in APPS)
        return PublishSummary(base, rows, "latest", ("GitHub release created.",))

    def names(self) -> list[str]:
        return [e[0] for e in self.events]


async def run(world: World, **request: object) -> PublishSummary:
    return await publish_staging(
        StagingRequest(commit=SHA, base="1.2.0", **request),  # type: ignore[arg-type]
        steps=world.steps(),
        pusher=world,
        ops=world,
        progress=RecordingProgress(),
    )


async def test_immutable_tags_are_pushed_for_every_app_before_any_floating_tag() -> None:
    world = World()
    summary = await run(world)
    names = world.names()
    assert names[:4] == ["validate", "reserve", "build", "smoke"]
    pushes = [i for i, e in enumerate(world.events) if e[0] == "push"]
    assert sorted(e[1] for e in world.events if e[0] == "push") == sorted(APPS)
    assert all(world.events[i][2] == VERSION for i in pushes)
    move = names.index("move_floating")
    assert max(pushes) < names.index("verify") < move
    assert world.events[names.index("verify")] == ("verify", VERSION, "None")
    assert names[move:] == ["move_floating", "verify", "release"]
    assert world.events[move + 1] == ("verify", VERSION, "staging")
    assert world.events[-1] == ("release", VERSION, "True")
    assert summary.version == VERSION
    assert [row.digest for row in summary.images] == [digest(a) for a in APPS]
    assert summary.images[0].tags == (VERSION, "staging")


async def test_a_failed_push_moves_no_floating_tag_and_releases_nothing() -> None:
    world = World(failing_push="web-sidecar")
    with pytest.raises(CheckFailed) as failed:
        await run(world)
    assert failed.value.problems == [
        f"push ghcr.io/acme/metaboost/web-sidecar:{VERSION}: the registry answered 500"
    ]
    assert "move_floating" not in world.names()
    assert "release" not in world.names()
    # The other pushes ran to their end (no half-sent write is abandoned).
    assert len([e for e in world.events if e[0] == "push"]) == 6


async def test_nothing_is_pushed_when_the_smoke_test_fails() -> None:
    world = World(failing_smoke=True)
    with pytest.raises(CheckFailed, match="smoke"):
        await run(world)
    assert world.names() == ["validate", "reserve", "build", "smoke"]


async def test_existing_immutable_tags_are_never_pushed_again() -> None:
    world = World(present_apps={"api", "web"})
    summary = await run(world, override=VERSION)
    pushed = {e[1] for e in world.events if e[0] == "push"}
    assert pushed == set(APPS) - {"api", "web"}
    # With an override the kept images are checked before the reservation, and again
    # (the set the pushes skip) after the smoke test.
    assert world.events[1:3] == [("present", VERSION), ("reserve", "1.2.0", VERSION, "False")]
    assert world.names().count("present") == 2
    assert any("Kept" in note and "api, web" in note for note in summary.notes)


@pytest.mark.parametrize(
    ("revisions", "why"),
    [
        (("fedcba9876543210fedcba9876543210fedcba98",), "was built from fedcba98"),
        ((SHA, "fedcba9"), "was built from fedcba9, not"),  # one platform of another commit
        ((), "has no org.opencontainers.image.revision label"),
        (("",), "has no org.opencontainers.image.revision label"),
    ],
)
async def test_kept_images_not_proven_this_commits_stop_everything_before_the_reservation(
    revisions: tuple[str, ...], why: str
) -> None:
    world = World(present_apps={"api", "web"}, present_revisions=revisions)
    with pytest.raises(CheckFailed, match="refusing before any push") as failed:
        await run(world, override=VERSION)
    assert world.names() == ["validate", "present"]
    assert len(failed.value.problems) == 2
    for app, problem in zip(("api", "web"), failed.value.problems, strict=True):
        assert problem.startswith(f"ghcr.io/acme/metaboost/{app}:{VERSION} ")
        assert why in problem
    assert failed.value.fix == "Choose another N with --version-override, or omit it."


async def test_an_abbreviated_revision_of_this_commit_is_proof_enough() -> None:
    world = World(present_apps={"api"}, present_revisions=(SHA[:7], SHA))
    await run(world, override=VERSION)
    assert {e[1] for e in world.events if e[0] == "push"} == set(APPS) - {"api"}


async def test_a_bad_override_is_refused_before_the_registry_is_read() -> None:
    world = World()
    with pytest.raises(InputError, match=r"staging\.N"):
        await run(world, override="1.2.0-rc.1")
    assert world.names() == ["validate"]


async def test_a_dry_run_with_an_override_checks_the_kept_images_too() -> None:
    world = World(present_apps={"web"}, present_revisions=("0" * 40,))
    with pytest.raises(CheckFailed, match="not proven"):
        await run(world, override=VERSION, dry_run=True)
    assert world.names() == ["validate", "present"]


async def test_a_registry_holding_other_bytes_than_pushed_stops_before_floating_tags() -> None:
    world = World()

    async def verify(*, version: str, float_tag: str | None) -> dict[str, str]:
        world.events.append(("verify", version, str(float_tag)))
        return {**{a: digest(a) for a in APPS}, "api": "sha256:" + "f" * 64}

    world.verify = verify  # type: ignore[method-assign]
    with pytest.raises(CheckFailed, match="not what was pushed") as failed:
        await run(world)
    [problem] = failed.value.problems
    assert "api" in problem
    assert "move_floating" not in world.names()


async def test_a_dry_run_validates_builds_and_smoke_tests_but_writes_nothing() -> None:
    world = World()
    summary = await run(world, dry_run=True)
    assert world.names() == ["validate", "reserve", "build", "smoke"]
    assert world.events[1] == ("reserve", "1.2.0", "None", "True")
    assert {row.digest for row in summary.images} == {"(not pushed)"}
    assert "Dry run" in summary.notes[0]


async def test_publish_main_is_the_promotion() -> None:
    world = World()
    summary = await publish_main(
        commit=SHA, base="1.2.0", dry_run=False, ops=world, progress=RecordingProgress()
    )
    assert world.events == [("promote", "1.2.0", "False")]
    assert "| api |" in summary.markdown()


# ------------------------------------------------------------------ the engine's pushes


def published(address: str) -> str:
    return f"{address}@sha256:{'a' * 64}"


async def test_a_single_platform_push_publishes_the_image_with_registry_auth(
    dagger_standin: StandInSession,
) -> None:
    dagger_standin.respond("Container.publish", lambda calls: published(calls[-1].args["address"]))
    secret = dag.set_secret("token", "s3cret")
    pusher = EnginePusher("ghcr.io", "Acme/Metaboost", auth=RegistryAuth("actor", secret))
    image = AppImage("api", ("linux/amd64",), (dag.directory().docker_build(dockerfile="x"),))
    assert await pusher.push(image, VERSION) == "sha256:" + "a" * 64
    [calls] = dagger_standin.leaves("Container.publish")
    address = f"ghcr.io/acme/metaboost/api:{VERSION}"  # lower-cased, as GHCR needs
    assert calls[-1].args == {"address": address}
    [auth] = args_of(calls, "withRegistryAuth")
    assert (auth["address"], auth["username"]) == (address, "actor")
    assert args_of(calls, "dockerBuild"), "the image itself is published"
    assert dagger_standin.origin(auth["secret"])[-1] == Call(
        "Query", "setSecret", {"name": "token", "plaintext": "s3cret"}
    )


async def test_several_platforms_publish_one_index_of_the_variants(
    dagger_standin: StandInSession,
) -> None:
    dagger_standin.respond("Container.publish", lambda calls: published(calls[-1].args["address"]))
    variants = tuple(
        dag.directory().docker_build(dockerfile="x", platform=dagger.Platform(p))
        for p in ("linux/amd64", "linux/arm64")
    )
    pusher = EnginePusher("ghcr.io", "acme/metaboost")
    await pusher.push(AppImage("web", ("linux/amd64", "linux/arm64"), variants), "staging-x")
    [calls] = dagger_standin.leaves("Container.publish")
    assert [c.field for c in calls] == ["container", "publish"]
    ids = calls[-1].args["platformVariants"]
    assert [args_of(dagger_standin.origin(i), "dockerBuild")[0]["platform"] for i in ids] == [
        "linux/amd64",
        "linux/arm64",
    ]


async def test_a_push_to_a_registry_service_names_the_service(
    dagger_standin: StandInSession,
) -> None:
    dagger_standin.respond("Container.publish", lambda calls: published(calls[-1].args["address"]))
    service = dag.container().from_("registry:2").with_exposed_port(5000).as_service()
    pusher = EnginePusher("localhost:5000", "rehearsal/metaboost", registry_service=service)
    await pusher.push(AppImage("api", ("linux/amd64",), (dag.container(),)), VERSION)
    [calls] = dagger_standin.leaves("Container.publish")
    assert calls[-1].args["address"] == f"localhost:5000/rehearsal/metaboost/api:{VERSION}"
    # The stand-in checked the argument is a Service's ID; it is this service.
    origin = dagger_standin.origin(calls[-1].args["registryService"])
    assert [c.field for c in origin] == [f for f, _ in chain(service)]


def test_a_publish_answer_without_a_digest_is_an_error() -> None:
    assert digest_of("ghcr.io/a/b:1@sha256:" + "b" * 64) == "sha256:" + "b" * 64
    with pytest.raises(RemoteError, match="names no digest"):
        digest_of("ghcr.io/a/b:1")
