"""The container steps of a staging publish, put together for one source."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagger

from .build import (
    AppImage,
    ImageMeta,
    build_images,
    rfc3339_now,
    source_url,
    sync_all,
    with_version,
)
from .node import new_run_id
from .publish import StagingSteps
from .smoke import SmokeOptions, smoke_test
from .validate import choose_steps, run_validate


@dataclass(frozen=True)
class BuildPlan:
    """What to build: the monorepo, its apps, the platforms, where the code lives."""

    source: dagger.Directory
    apps: tuple[str, ...]
    platforms: list[str]
    repository: str
    validate_steps: list[str] | None = None
    smoke: SmokeOptions = field(default_factory=SmokeOptions)
    # This run's id: what reads the outside world (the audit) carries it.
    run_id: str = field(default_factory=new_run_id)

    def meta(self, *, commit: str, version: str, created: str = "") -> ImageMeta:
        return ImageMeta(
            revision=commit,
            version=version,
            source=source_url(self.repository),
            created=created or rfc3339_now(),
        )

    async def build_all(self, *, commit: str, version: str) -> list[AppImage]:
        """Every app for every platform, in one session, labelled ``commit`` and ``version``."""
        meta = self.meta(commit=commit, version=version)
        return await sync_all(build_images(self.source, self.apps, self.platforms, meta))


def staging_steps(plan: BuildPlan, *, commit: str) -> StagingSteps:
    """validate, build (all apps, one session), smoke and the version label for ``plan``."""
    steps = choose_steps(plan.validate_steps)  # bad step names fail before any work

    async def validate() -> list[str]:
        return await run_validate(plan.source, steps, run_id=plan.run_id)

    async def build() -> list[AppImage]:
        # No version yet: it is reserved after the build (see publish).
        return await plan.build_all(commit=commit, version="")

    async def smoke(images: list[AppImage]) -> list[str]:
        return await smoke_test(images, plan.smoke)

    async def label(images: list[AppImage], version: str) -> list[AppImage]:
        return with_version(images, version)

    return StagingSteps(validate=validate, build=build, smoke=smoke, label=label)
