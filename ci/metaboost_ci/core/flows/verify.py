"""Check that every app has the version tag (and the floating tag) on one digest.

Every app is checked, and every problem is reported at once, so one run of
``verify`` tells the whole story instead of the first missing tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import CheckFailed, NotFound
from .context import ReleaseContext, authorize, per_app


@dataclass(frozen=True)
class TagState:
    """What one app's tags name right now (None: the tag is absent)."""

    app: str
    version_digest: str | None
    float_digest: str | None = None


@dataclass(frozen=True)
class Verification:
    version: str
    float_tag: str | None
    # app -> the digest both tags name.
    digests: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "float_tag": self.float_tag, "digests": self.digests}


async def head_digest(ctx: ReleaseContext, app: str, ref: str) -> str | None:
    """The digest ``app:ref`` names, or None when the tag (or the image) is absent."""
    try:
        descriptor = await ctx.registry.head_manifest(ctx.image_name(app), ref)
    except NotFound:  # the whole repository is missing: the tag is too
        return None
    return descriptor.digest if descriptor else None


async def read_tag_states(
    ctx: ReleaseContext, version: str, float_tag: str | None
) -> dict[str, TagState]:
    """One HEAD per tag per app, all apps concurrently."""

    async def one(app: str) -> TagState:
        version_digest = await head_digest(ctx, app, version)
        float_digest = await head_digest(ctx, app, float_tag) if float_tag else None
        return TagState(app, version_digest, float_digest)

    await authorize(ctx, write=False)
    return await per_app(ctx.apps, one, progress=ctx.progress)


def tag_problems(
    ctx: ReleaseContext, states: dict[str, TagState], version: str, float_tag: str | None
) -> list[str]:
    problems: list[str] = []
    for app, state in states.items():
        if state.version_digest is None:
            problems.append(f"{ctx.image_ref(app, version)} does not exist.")
        if float_tag is None:
            continue
        if state.float_digest is None:
            problems.append(f"{ctx.image_ref(app, float_tag)} does not exist.")
        elif state.version_digest is not None and state.float_digest != state.version_digest:
            problems.append(
                f"{ctx.image(app)}: {float_tag} names {state.float_digest} but {version} "
                f"names {state.version_digest}."
            )
    return problems


async def verify(
    ctx: ReleaseContext, *, version: str, float_tag: str | None = None
) -> Verification:
    """Every app has ``version`` (and ``float_tag``, on the same digest), or ``CheckFailed``."""
    what = f"{version} and {float_tag}" if float_tag else version
    ctx.progress.step(f"Verifying {what} on {len(ctx.apps)} apps.")
    states = await read_tag_states(ctx, version, float_tag)
    problems = tag_problems(ctx, states, version, float_tag)
    if problems:
        raise CheckFailed(
            f"Verification of {what} failed for {len(problems)} tag(s):",
            problems,
            fix="Push the missing images (re-run the publish), then verify again.",
        )
    digests = {app: state.version_digest for app, state in states.items() if state.version_digest}
    return Verification(version, float_tag, digests)
