"""Registry tag discovery for the staging line, with the old workflow's semantics.

Per app, one tag listing: 200 is normal; 404 ``NAME_UNKNOWN`` is the first
publish (no tags, N starts at 0); 401 and 403 fail with guidance (the registry
client's message names the token variables and the package's access settings);
anything else fails fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..errors import NotFound
from ..versions import staging_numbers
from .context import ReleaseContext, authorize, per_app


@dataclass(frozen=True)
class AppTags:
    app: str
    # False on a first publish: the registry does not know the image yet.
    exists: bool
    # Every tag the registry listed (for the promotion's own reading).
    tags: tuple[str, ...] = field(repr=False)
    # The N of every BASE-staging.N among them, sorted.
    staging: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "exists": self.exists, "staging": list(self.staging)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppTags:
        """What ``to_dict`` wrote; it leaves out the full tag list (tens of thousands of
        tags on a busy image), so ``tags`` comes back empty."""
        staging = tuple(int(n) for n in data["staging"])
        return cls(
            app=str(data["app"]),
            exists=bool(data["exists"]),
            tags=(),
            staging=staging,
        )


@dataclass(frozen=True)
class Discovery:
    base: str
    apps: dict[str, AppTags]

    @property
    def highest_n(self) -> int | None:
        numbers = [n for app in self.apps.values() for n in app.staging]
        return max(numbers) if numbers else None

    @property
    def next_n(self) -> int:
        highest = self.highest_n
        return 0 if highest is None else highest + 1

    @property
    def first_publish(self) -> list[str]:
        return [name for name, app in self.apps.items() if not app.exists]

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "highest_n": self.highest_n,
            "next_n": self.next_n,
            "first_publish": self.first_publish,
            "apps": {name: app.to_dict() for name, app in self.apps.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Discovery:
        """The discovery ``to_dict`` wrote (``discover --json``, as the Dagger layer reads
        it); the figures it adds (``highest_n``, ...) are derived, so not read back."""
        apps = cast(Mapping[str, Mapping[str, Any]], data["apps"])
        return cls(
            base=str(data["base"]),
            apps={name: AppTags.from_dict(app) for name, app in apps.items()},
        )


async def list_app_tags(ctx: ReleaseContext, app: str, base: str) -> AppTags:
    """One app's tags; a repository the registry does not know is an empty one."""
    try:
        tags = await ctx.registry.list_tags(ctx.image_name(app))
    except NotFound:  # NAME_UNKNOWN, or a bare 404: the image was never pushed
        return AppTags(app=app, exists=False, tags=(), staging=())
    staging = tuple(staging_numbers(tags, base))
    return AppTags(app=app, exists=True, tags=tuple(tags), staging=staging)


async def discover(ctx: ReleaseContext, *, base: str) -> Discovery:
    """List every app's tags concurrently and collect its ``BASE-staging.N``."""

    async def one(app: str) -> AppTags:
        return await list_app_tags(ctx, app, base)

    await authorize(ctx, write=False)
    apps = await per_app(ctx.apps, one, progress=ctx.progress)
    discovery = Discovery(base=base, apps=apps)
    if discovery.first_publish:
        ctx.progress.step(
            "First publish (registry answered 404 NAME_UNKNOWN) for: "
            + ", ".join(discovery.first_publish)
        )
    return discovery
