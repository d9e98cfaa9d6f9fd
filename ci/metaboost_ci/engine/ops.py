"""The release-core half of a publish, behind one small interface.

``publish.publish_staging`` calls these operations in a fixed order; where
they run is the implementation's business:

- ``InProcessOps`` calls ``core.flows`` directly with a ``ReleaseContext``
  (publish-staging, publish-main, verify, plan: the module's own Python
  process reaches ghcr.io and api.github.com);
- ``rehearse.CliOps`` runs the same flows through the ``metaboost-ci``
  command line in a container bound to the rehearsal's registry service
  (see ``rehearse`` for why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import dagger

from ..core.flows import (
    PublishSummary,
    ReleaseContext,
    move_floating,
    promote,
    read_revisions,
    release,
    reserve,
    verify,
)
from ..core.flows.notes import changelog_path, checked_notes
from ..core.flows.release import base_of_tag
from ..core.flows.verify import read_tag_states
from ..core.progress import Progress


@dataclass(frozen=True)
class KeptImage:
    """An app whose immutable tag already exists: it is kept, never pushed again."""

    app: str
    # The revision label of each runnable image of the tag ("" for one without).
    revisions: tuple[str, ...]


class ReleaseOps(Protocol):
    """Reserve, verify, move floating tags, release and promote; see ``core.flows``."""

    async def reserve(self, *, commit: str, base: str, override: str | None, dry_run: bool) -> str:
        """The reserved (or, in a dry run, the planned) ``BASE-staging.N``."""
        ...

    async def present(self, *, version: str) -> list[KeptImage]:
        """The apps whose ``version`` tag already exists on the registry, with its revisions."""
        ...

    async def verify(self, *, version: str, float_tag: str | None) -> dict[str, str]:
        """app -> digest, once every app has ``version`` (and ``float_tag`` on it)."""
        ...

    async def move_floating(self, *, version: str, float_tag: str) -> None: ...

    async def release(self, *, tag: str, commit: str, prerelease: bool) -> str:
        """The release step as one line for the summary."""
        ...

    async def promote(self, *, commit: str, base: str, dry_run: bool) -> PublishSummary: ...


async def changelog_notes(
    source: dagger.Directory, base: str, progress: Progress | None = None
) -> str:
    """``docs/development/CHANGELOGS/BASE.md`` of ``source``, or the fallback sentence.

    By the core's rules (``checked_notes``): a link is not followed (in a
    Directory it could not leave the source anyway), size and UTF-8 checked.
    """
    path = changelog_path(base)
    regular = dagger.ExistsType.REGULAR_TYPE
    if not await source.exists(path, expected_type=regular, do_not_follow_symlinks=True):
        return checked_notes(base, None, "the source directory", progress).text
    data = (await source.file(path).contents()).encode("utf-8")
    return checked_notes(base, data, "the source directory", progress).text


class InProcessOps:
    """``core.flows`` called directly, in the module's own process."""

    def __init__(self, ctx: ReleaseContext, source: dagger.Directory) -> None:
        self.ctx = ctx
        # The monorepo being published: the changelog is read from it.
        self.source = source

    async def reserve(self, *, commit: str, base: str, override: str | None, dry_run: bool) -> str:
        result = await reserve(
            self.ctx, commit=commit, base=base, override=override, dry_run=dry_run
        )
        return result.version

    async def present(self, *, version: str) -> list[KeptImage]:
        states = await read_tag_states(self.ctx, version, None)
        found = {app: s.version_digest for app, s in states.items() if s.version_digest}
        # By digest: the labels of exactly the image the tag was found naming.
        read = await read_revisions(self.ctx, found)
        return [KeptImage(app, tuple(labels)) for app, labels in read.items()]

    async def verify(self, *, version: str, float_tag: str | None) -> dict[str, str]:
        return (await verify(self.ctx, version=version, float_tag=float_tag)).digests

    async def move_floating(self, *, version: str, float_tag: str) -> None:
        await move_floating(self.ctx, version=version, float_tag=float_tag)

    async def release(self, *, tag: str, commit: str, prerelease: bool) -> str:
        notes = await changelog_notes(self.source, base_of_tag(tag), self.ctx.progress)
        outcome = await release(
            self.ctx, tag=tag, commit=commit, notes=notes, prerelease=prerelease
        )
        return outcome.sentence()

    async def promote(self, *, commit: str, base: str, dry_run: bool) -> PublishSummary:
        notes = await changelog_notes(self.source, base, self.ctx.progress)
        result = await promote(self.ctx, commit=commit, base=base, notes=notes, dry_run=dry_run)
        summary = result.summary()
        line = result.release.sentence()
        head = "Dry run: nothing was written." if dry_run else f"Git tag {base}: {result.git_tag}."
        return PublishSummary(summary.version, summary.images, summary.float_tag, (head, line))
