"""publish-staging's order, recorded with fakes; the engine's pushes, read from their queries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import anyio
import dagger
import pytest
from dagger import dag

from metaboost_ci.core.apps import DEFAULT_APPS
from metaboost_ci.core.errors import CheckFailed, InputError, RemoteError
from metaboost_ci.core.flows import ImageRow, PublishSummary
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.engine.build import LABEL_VERSION, AppImage, with_version
from metaboost_ci.engine.ops import KeptImage
from metaboost_ci.engine.publish import (
    EnginePusher,
    RegistryAuth,
    StagingRequest,
    StagingSteps,
    digest_of,
    publish_main,
    publish_staging,
    summary_document,
)
from tests.support.dagger_offline import Call, StandInSession, args_of, chain

SHA = "0123456789abcdef0123456789abcdef01234567"
APPS = DEFAULT_APPS
VERSION = "1.2.0-staging.4"


def digest(app: str) -> str:
    return "sha256:" + (app.encode().hex() * 64)[:64]


@dataclass
class World:
    """Fakes for every step; ``events`` records what ran, in order.

    validate and build record when they start (``*_started``) and, after
    yielding to the event loop a few times as real steps do, when they end:
    run concurrently, each starts before the other ends.
    """

    events: list[tuple[str, ...]] = field(default_factory=lambda: [])
    present_apps: set[str] = field(default_factory=lambda: set())
    # The revision labels the present apps' images carry (None: unreadable).
    present_revisions: tuple[str, ...] = (SHA,)
    failing_push: str | None = None
    failing_smoke: bool = False
    failing_validate: bool = False
    failing_build: bool = False
    registry_digests: dict[str, str] = field(default_factory=lambda: {})
    # The images each push was given, by app.
    pushed_images: dict[str, AppImage] = field(default_factory=lambda: {})

    # -- steps
    async def step(self, name: str) -> None:
        self.events.append((f"{name}_started",))
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        self.events.append((name,))

    async def validate(self) -> list[str]:
        await self.step("validate")
        if self.failing_validate:
            raise CheckFailed("validate step 'lint' failed.", fix="Run `npm run lint`.")
        return ["ok  install"]

    async def build(self) -> list[AppImage]:
        await self.step("build")
        if self.failing_build:
            raise CheckFailed("Building the images failed.", ["web (linux/amd64): exit 1"])
        return [AppImage(app, ("linux/amd64",), (dag.container(),)) for app in APPS]

    async def smoke(self, images: list[AppImage]) -> list[str]:
        self.events.append(("smoke",))
        if self.failing_smoke:
            raise CheckFailed("The smoke test failed.", ["web: did not stay up"])
        return ["ok  web"]

    async def label(self, images: list[AppImage], version: str) -> list[AppImage]:
        self.events.append(("label", version))
        return with_version(images, version)

    def steps(self) -> StagingSteps:
        return StagingSteps(self.validate, self.build, self.smoke, self.label)

    # -- Pusher
    def image(self, app: str) -> str:
        return f"ghcr.io/acme/metaboost/{app}"

    async def push(self, image: AppImage, tag: str) -> str:
        self.events.append(("push", image.app, tag))
        self.pushed_images[image.app] = image
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

    def ran(self) -> list[tuple[str, ...]]:
        """What ran, in the order it ended (start markers left out)."""
        return [e for e in self.events if not e[0].endswith("_started")]

    def names(self) -> list[str]:
        return [e[0] for e in self.ran()]


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
    assert sorted(names[:2]) == ["build", "validate"]
    assert names[2:5] == ["smoke", "reserve", "label"]
    ran = world.ran()
    assert ran[4] == ("label", VERSION)
    pushes = [i for i, e in enumerate(ran) if e[0] == "push"]
    assert sorted(e[1] for e in ran if e[0] == "push") == sorted(APPS)
    assert all(ran[i][2] == VERSION for i in pushes)
    move = names.index("move_floating")
    assert max(pushes) < names.index("verify") < move
    assert ran[names.index("verify")] == ("verify", VERSION, "None")
    assert names[move:] == ["move_floating", "verify", "release"]
    assert ran[move + 1] == ("verify", VERSION, "staging")
    assert ran[-1] == ("release", VERSION, "True")
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
    assert len([e for e in world.events if e[0] == "push"]) == len(APPS)


async def test_the_builds_start_before_validate_ends() -> None:
    world = World()
    await run(world)
    events = [e[0] for e in world.events]
    assert events.index("build_started") < events.index("validate")
    assert events.index("validate_started") < events.index("build")


@pytest.mark.parametrize(
    ("failing", "message"),
    [
        ({"failing_validate": True}, "validate step 'lint' failed"),
        ({"failing_build": True}, "Building the images failed"),
        ({"failing_smoke": True}, "The smoke test failed"),
    ],
)
async def test_no_n_is_reserved_and_nothing_pushed_when_a_check_fails(
    failing: dict[str, bool], message: str
) -> None:
    world = World(**failing)  # type: ignore[arg-type]
    with pytest.raises(CheckFailed, match=message) as failed:
        await run(world)
    names = world.names()
    assert "reserve" not in names
    assert not {"label", "push", "move_floating", "release"} & set(names)
    # Both validate and the builds ran to their end; the smoke test only after both passed.
    assert sorted(names[:2]) == ["build", "validate"]
    assert ("smoke" in names) is ("failing_smoke" in failing)
    if "failing_validate" in failing:
        assert failed.value.fix == "Run `npm run lint`."  # validate's own error, as it was


async def test_validate_and_a_build_failing_together_are_reported_together() -> None:
    world = World(failing_validate=True, failing_build=True)
    with pytest.raises(CheckFailed, match="validate and the image builds failed") as failed:
        await run(world)
    build, validate = failed.value.problems
    # Each with its own details (the failed image, validate's fix).
    assert build.startswith("build: Building the images failed.")
    assert "web (linux/amd64)" in build
    assert validate.startswith("validate: validate step 'lint' failed.")
    assert "npm run lint" in validate
    assert sorted(world.names()) == ["build", "validate"]


async def test_the_version_label_is_added_after_the_build_to_the_images_pushed() -> None:
    world = World()
    built: list[AppImage] = []
    original = world.build

    async def build() -> list[AppImage]:
        built.extend(await original())
        return built

    world.build = build  # type: ignore[method-assign]
    await run(world)
    assert not [c for c in chain(built[0].primary) if c[0] == "withLabel"]
    for app in APPS:
        labels = [c[1] for c in chain(world.pushed_images[app].primary) if c[0] == "withLabel"]
        assert labels == [{"name": LABEL_VERSION, "value": VERSION}]


async def test_existing_immutable_tags_are_never_pushed_again() -> None:
    world = World(present_apps={"api", "web"})
    summary = await run(world, override=VERSION)
    pushed = {e[1] for e in world.events if e[0] == "push"}
    assert pushed == set(APPS) - {"api", "web"}
    # With an override the kept images are checked before the reservation, and again
    # (the set the pushes skip) before the pushes.
    names = world.names()
    at = names.index("present")
    assert names[at - 1 : at + 2] == ["smoke", "present", "reserve"]
    assert ("reserve", "1.2.0", VERSION, "False") in world.events
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
    assert world.names()[2:] == ["smoke", "present"]
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
    assert world.events == []  # bad input: refused before any work


async def test_a_dry_run_with_an_override_checks_the_kept_images_too() -> None:
    world = World(present_apps={"web"}, present_revisions=("0" * 40,))
    with pytest.raises(CheckFailed, match="not proven"):
        await run(world, override=VERSION, dry_run=True)
    assert world.names()[2:] == ["smoke", "present"]


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
    assert world.names()[2:] == ["smoke", "reserve", "label"]
    assert ("reserve", "1.2.0", "None", "True") in world.events
    assert {row.digest for row in summary.images} == {"(not pushed)"}
    assert "Dry run" in summary.notes[0]


async def test_the_json_document_names_each_image_and_its_pushed_digest() -> None:
    summary = await run(World())
    document = json.loads(summary_document(summary))
    assert document["version"] == VERSION
    assert [(i["app"], i["image"], i["digest"]) for i in document["images"]] == [
        (app, f"ghcr.io/acme/metaboost/{app}", digest(app)) for app in APPS
    ]
    assert document["markdown"] == summary.markdown()


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
