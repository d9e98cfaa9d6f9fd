"""The release-core half of a publish, behind one small interface.

``publish.publish_staging`` calls these operations in a fixed order. The one
implementation is ``tools.CliOps``: each operation is a ``metaboost-ci``
command in the tools container, for production and ``rehearse`` alike; the
tests record the order with fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..core.flows import PublishSummary


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
