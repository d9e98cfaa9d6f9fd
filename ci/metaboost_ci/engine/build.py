"""Image builds: every app from the repository root with its own Dockerfile.

All apps are built in one Dagger session from the same context directory, so
the steps their Dockerfiles share (base image, ``npm ci``, the shared package
build) are solved once and reused by every image, instead of once per runner
as in the old six-way matrix.

Labels are image metadata, set after the Dockerfile steps (``with_label``
changes the image config, not a layer). A staging publish builds without the
version label and adds it with ``with_version`` once ``X.Y.Z-staging.N`` is
reserved, so the expensive build need not wait for the reservation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import dagger

from ..core.apps import dockerfile_path
from ..core.errors import InputError
from .concurrent import run_all

DEFAULT_PLATFORM = "linux/amd64"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_VERSION = "org.opencontainers.image.version"
LABEL_CREATED = "org.opencontainers.image.created"
_PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")


@dataclass(frozen=True)
class ImageMeta:
    """What every image of one build carries as OCI labels."""

    revision: str
    version: str
    source: str
    created: str

    def labels(self) -> list[tuple[str, str]]:
        """The OCI labels, empty values left out (a label saying nothing helps no one)."""
        pairs = [
            (LABEL_REVISION, self.revision),
            (LABEL_SOURCE, self.source),
            (LABEL_VERSION, self.version),
            (LABEL_CREATED, self.created),
        ]
        return [(name, value) for name, value in pairs if value]


def rfc3339_now() -> str:
    """The current UTC time as RFC 3339 (the format the OCI spec asks for)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def source_url(repository: str) -> str:
    """``org.opencontainers.image.source``: the repository the images come from.

    Registries that group images into packages link a package to its repository
    through this label.
    """
    return f"https://github.com/{repository}" if repository else ""


def parse_platforms(platforms: list[str] | None) -> list[str]:
    """Check ``os/arch[/variant]`` strings; none given means linux/amd64 only."""
    chosen = [p.strip() for p in platforms or [] if p.strip()] or [DEFAULT_PLATFORM]
    bad = [p for p in chosen if not _PLATFORM_RE.match(p)]
    if bad:
        raise InputError(
            f"Platform(s) not of the form os/arch[/variant]: {', '.join(bad)}.",
            fix="Pass e.g. --platforms linux/amd64 --platforms linux/arm64.",
        )
    if len(set(chosen)) != len(chosen):
        raise InputError("A platform is named twice.", fix="Name each platform once.")
    return chosen


def build_app(
    source: dagger.Directory, app: str, platform: str, meta: ImageMeta
) -> dagger.Container:
    """One app for one platform, from the repository root with the app's Dockerfile."""
    container = source.docker_build(
        dockerfile=dockerfile_path(app),
        platform=dagger.Platform(platform),
    )
    for name, value in meta.labels():
        container = container.with_label(name, value)
    return container


@dataclass(frozen=True)
class AppImage:
    """One app's image: one container per platform, in the order asked for."""

    app: str
    platforms: tuple[str, ...]
    variants: tuple[dagger.Container, ...]

    @property
    def primary(self) -> dagger.Container:
        return self.variants[0]


def build_images(
    source: dagger.Directory, apps: tuple[str, ...], platforms: list[str], meta: ImageMeta
) -> list[AppImage]:
    """Every app for every platform, as lazy containers (nothing runs yet)."""
    return [
        AppImage(
            app,
            tuple(platforms),
            tuple(build_app(source, app, platform, meta) for platform in platforms),
        )
        for app in apps
    ]


def with_version(images: list[AppImage], version: str) -> list[AppImage]:
    """``images`` with the version label: config only, the built layers are reused as they are."""
    return [
        AppImage(
            image.app,
            image.platforms,
            tuple(variant.with_label(LABEL_VERSION, version) for variant in image.variants),
        )
        for image in images
    ]


async def sync_all(images: list[AppImage]) -> list[AppImage]:
    """Build every variant of every app concurrently, in this one session.

    Concurrent requests let the engine solve the Dockerfiles' shared steps
    once and run the rest in parallel. A failure names the app and platform.
    """
    steps = [
        (f"{image.app} ({platform})", variant.sync)
        for image in images
        for platform, variant in zip(image.platforms, image.variants, strict=True)
    ]
    built = iter(await run_all("Building the images", steps))
    return [
        AppImage(image.app, image.platforms, tuple(next(built) for _ in image.variants))
        for image in images
    ]
