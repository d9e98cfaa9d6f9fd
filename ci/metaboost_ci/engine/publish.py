"""publish-staging and publish-main: the order of a release, written once.

    (validate | build) -> smoke -> reserve -> label -> push every immutable tag
    -> verify -> move the floating tag -> verify again -> prerelease -> summary

validate and the image builds run at the same time: the builds do not need
the version, whose label is image metadata added after the Dockerfile steps
(``build.with_version``). ``X.Y.Z-staging.N`` is reserved only once validate,
every build and the smoke test passed, so a failed check never burns an N
(a Git tag with no images under it).

The order is the point: the floating tag ``staging`` moves only after every
app's immutable ``X.Y.Z-staging.N`` is pushed and verified, so it never names
a mix of releases; nothing is pushed before the smoke test passed; an
immutable tag that already exists (a re-run with ``--version-override``) is
never pushed again, so it cannot move to other bytes. Such a kept image must
carry this commit in its ``org.opencontainers.image.revision`` label, else
``staging`` would move to another commit's build: with an override this is
checked before the reservation (which creates the Git tag), and again before
the pushes; a kept image that is not provably this commit's stops the publish.

The steps come in as a ``StagingSteps`` (containers: validate, build, smoke,
label), a ``Pusher`` (image pushes) and a ``ReleaseOps`` (tags and releases),
so the same sequence runs for ``publish-staging`` (the registry, the GitHub API)
and for ``rehearse`` (a registry service, a throwaway Git remote), and tests
can record the order with fakes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol, cast

import dagger
from dagger import dag

from ..core.apps import image_name
from ..core.errors import CheckFailed, RemoteError
from ..core.flows import REVISION_LABEL, ImageRow, PublishSummary
from ..core.flows.plan import revision_matches
from ..core.progress import Progress
from ..core.together import settle
from ..core.versions import STAGING, validate_override
from .build import AppImage
from .concurrent import describe_failure, run_all
from .ops import KeptImage, ReleaseOps

NOT_PUSHED = "(not pushed)"


def digest_of(published: str) -> str:
    """The digest in ``host/name:tag@sha256:...`` as ``Container.publish`` returns it."""
    _, at, digest = published.rpartition("@")
    if not at or not digest.startswith("sha256:"):
        raise RemoteError(f"The engine's publish answered {published!r}, which names no digest.")
    return digest


@dataclass(frozen=True)
class RegistryAuth:
    username: str
    secret: dagger.Secret


class Pusher(Protocol):
    """Pushes one app's image (all its platforms) under one tag."""

    def image(self, app: str) -> str:
        """``host/owner/repo/app``, as people pull it."""
        ...

    async def push(self, image: AppImage, tag: str) -> str:
        """Push and return the digest the registry stored."""
        ...


class EnginePusher:
    """``Container.publish`` by the engine: one manifest, or an index for several platforms.

    With ``registry_service`` the engine dials that Dagger service for the
    address's host (``Container.publish(registryService:)``, engine >= 0.21.6):
    how ``rehearse`` pushes to the registry it runs inside the session.
    """

    def __init__(
        self,
        host: str,
        repository: str,
        *,
        auth: RegistryAuth | None = None,
        registry_service: dagger.Service | None = None,
    ) -> None:
        self.host = host
        self.repository = repository
        self.auth = auth
        self.registry_service = registry_service

    def image(self, app: str) -> str:
        return f"{self.host}/{image_name(self.repository, app)}"

    def publisher(self, image: AppImage, address: str) -> dagger.Container:
        """The container whose ``publish`` pushes ``image`` (auth attached)."""
        # One platform: the image itself (a plain manifest). Several: an empty
        # container publishing the variants as one index, as Dagger documents.
        container = image.primary if len(image.variants) == 1 else dag.container()
        if self.auth is not None:
            container = container.with_registry_auth(address, self.auth.username, self.auth.secret)
        return container

    async def push(self, image: AppImage, tag: str) -> str:
        address = f"{self.image(image.app)}:{tag}"
        variants = list(image.variants) if len(image.variants) > 1 else None
        published = await self.publisher(image, address).publish(
            address, platform_variants=variants, registry_service=self.registry_service
        )
        return digest_of(published)


@dataclass(frozen=True)
class StagingSteps:
    """The container work of a staging publish, as callables (fakes in tests)."""

    validate: Callable[[], Awaitable[list[str]]]
    # The built (synced) images, without the version label.
    build: Callable[[], Awaitable[list[AppImage]]]
    smoke: Callable[[list[AppImage]], Awaitable[list[str]]]
    # (built images, reserved version) -> the images to push, version label added.
    label: Callable[[list[AppImage], str], Awaitable[list[AppImage]]]


@dataclass(frozen=True)
class StagingRequest:
    commit: str
    base: str
    override: str | None = None
    dry_run: bool = False
    float_tag: str = STAGING


async def push_immutable(
    pusher: Pusher, images: list[AppImage], version: str, skip: set[str]
) -> dict[str, str]:
    """Push ``version`` for every app not in ``skip``, concurrently; app -> digest."""
    todo = [image for image in images if image.app not in skip]
    steps = [
        (f"push {pusher.image(i.app)}:{version}", partial(pusher.push, i, version)) for i in todo
    ]
    digests = await run_all(f"Pushing {version}", steps)
    return {image.app: digest for image, digest in zip(todo, digests, strict=True)}


def provenance_problem(kept: KeptImage, ref: str, commit: str) -> str | None:
    """Why ``kept`` is not provably a build of ``commit``, or None when it is."""
    if not kept.revisions or "" in kept.revisions:
        return f"{ref} has no {REVISION_LABEL} label: its commit cannot be proven."
    others = sorted({r for r in kept.revisions if not revision_matches(r, commit)})
    return f"{ref} was built from {', '.join(others)}, not {commit}." if others else None


async def kept_images(ops: ReleaseOps, pusher: Pusher, *, version: str, commit: str) -> set[str]:
    """The apps whose ``version`` already exists, once each is proven a build of ``commit``."""
    kept = await ops.present(version=version)
    problems = [
        problem
        for image in kept
        if (problem := provenance_problem(image, f"{pusher.image(image.app)}:{version}", commit))
    ]
    if problems:
        raise CheckFailed(
            f"{version} already exists for {len(problems)} app(s) not proven to be built from "
            f"{commit}; refusing before any push or tag move.",
            problems,
            fix="Choose another N with --version-override, or omit it.",
        )
    return {image.app for image in kept}


async def validate_and_build(steps: StagingSteps) -> tuple[list[str], list[AppImage]]:
    """validate and the builds at once, each to its end (validate's lines, the images).

    One failure is raised as it is (its own message and fix); both failing
    become one ``CheckFailed`` naming each.
    """
    names = ("validate", "build")
    (checks, images), failed = await settle((steps.validate, steps.build), Exception)
    failures = {names[i]: exc for i, exc in failed.items()}
    if len(failures) == 1:
        raise next(iter(failures.values()))
    if failures:
        problems = [f"{name}: {describe_failure(exc)}" for name, exc in failures.items()]
        raise CheckFailed("validate and the image builds failed.", sorted(problems))
    return cast(list[str], checks), cast(list[AppImage], images)


async def publish_staging(
    request: StagingRequest,
    *,
    steps: StagingSteps,
    pusher: Pusher,
    ops: ReleaseOps,
    progress: Progress,
) -> PublishSummary:
    """The staging publish, in the order the module docstring gives."""
    if request.override is not None:
        validate_override(request.override, request.base)  # bad input: before any work
    progress.step("Validating while building the images; N is reserved once the checks pass.")
    checks, built = await validate_and_build(steps)
    for line in checks:
        progress.step(f"validate {line}")
    for line in await steps.smoke(built):
        progress.step(f"smoke {line}")
    if request.override is not None:
        # Before the reservation: it would create the Git tag at this commit
        # even when the images under it are another commit's.
        await kept_images(ops, pusher, version=request.override, commit=request.commit)
    version = await ops.reserve(
        commit=request.commit, base=request.base, override=request.override, dry_run=request.dry_run
    )
    progress.step(f"{'Would reserve' if request.dry_run else 'Reserved'} {version}.")
    images = await steps.label(built, version)
    if request.dry_run:
        rows = tuple(
            ImageRow(
                app=i.app,
                image=pusher.image(i.app),
                tags=(version, request.float_tag),
                digest=NOT_PUSHED,
            )
            for i in images
        )
        note = "Dry run: validated, built and smoke-tested; nothing was tagged, pushed or released."
        return PublishSummary(
            version=version, images=rows, float_tag=request.float_tag, notes=(note,)
        )

    # Immutable tags: never pushed over (a re-run keeps what is there, once
    # proven this commit's; read again: this is the set the pushes skip).
    existing = await kept_images(ops, pusher, version=version, commit=request.commit)
    if existing:
        progress.step(
            f"{version} already exists for {', '.join(sorted(existing))}: kept, not pushed again."
        )
    pushed = await push_immutable(pusher, images, version, existing)
    verified = await ops.verify(version=version, float_tag=None)
    mismatched = [
        f"{pusher.image(app)}:{version} names {verified.get(app)}, the push stored {digest}."
        for app, digest in pushed.items()
        if verified.get(app) != digest
    ]
    if mismatched:
        raise CheckFailed(f"{version} on the registry is not what was pushed.", mismatched)

    # Only now, for all apps together: the floating tag.
    await ops.move_floating(version=version, float_tag=request.float_tag)
    digests = await ops.verify(version=version, float_tag=request.float_tag)
    release = await ops.release(tag=version, commit=request.commit, prerelease=True)
    rows = tuple(
        ImageRow(
            app=i.app,
            image=pusher.image(i.app),
            tags=(version, request.float_tag),
            digest=digests[i.app],
        )
        for i in images
    )
    notes = [release]
    if existing:
        notes.append(f"Kept (already published, not pushed again): {', '.join(sorted(existing))}.")
    return PublishSummary(
        version=version, images=rows, float_tag=request.float_tag, notes=tuple(notes)
    )


def summary_document(summary: PublishSummary) -> str:
    """One JSON document for the next workflow step: the summary's fields and its Markdown.

    ``images`` lists each app's image (``host/owner/repo/app``, no tag) and the
    digest pushed (or promoted): the subjects of the build attestations.
    """
    return json.dumps({**summary.to_dict(), "markdown": summary.markdown()}, indent=2)


async def publish_main(
    *, commit: str, base: str, dry_run: bool, ops: ReleaseOps, progress: Progress
) -> PublishSummary:
    """The main publish: promote the staging build of ``commit``; no rebuild."""
    progress.step(f"Promoting the staging build of {commit[:12]} to {base}.")
    return await ops.promote(commit=commit, base=base, dry_run=dry_run)
