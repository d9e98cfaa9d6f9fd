"""Move a floating tag (``staging``, ``latest``) to a version, for all apps together.

The immutable version tags are verified on every app first; only then is any
floating tag written, and then all of them at once. So a floating tag never
names a mix of releases because one app's image was missing, and a failure
before the writes leaves every floating tag where it was. A registry cannot
write six tags atomically: if a write fails part-way, the error names the apps
already moved, and moving again converges (only the apps behind are written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import semver

from ..errors import CheckFailed, InputError
from ..registry import Manifest
from .context import ReleaseContext, authorize, write_per_app
from .verify import read_tag_states, require_image_tag, tag_problems


@dataclass(frozen=True)
class FloatingMove:
    version: str
    float_tag: str
    digests: dict[str, str]
    # Apps whose floating tag was written; the others already named the version.
    moved: tuple[str, ...]
    unchanged: tuple[str, ...]
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "float_tag": self.float_tag,
            "digests": self.digests,
            "moved": list(self.moved),
            "unchanged": list(self.unchanged),
            "dry_run": self.dry_run,
        }


def require_floating_tag(float_tag: str) -> str:
    """A floating tag is a valid tag name (``staging``, ``latest``), never a version.

    Moving ``1.2.0`` (or ``1.2.0-staging.3``) "to" another version would move
    an immutable tag to other bytes, which nothing may do.
    """
    require_image_tag(float_tag)
    if semver.Version.is_valid(float_tag.removeprefix("v")):
        raise InputError(
            f"{float_tag!r} is a version, and version tags are immutable: it cannot float.",
            fix="Move a floating tag such as staging or latest.",
        )
    return float_tag


async def move_floating(
    ctx: ReleaseContext, *, version: str, float_tag: str, dry_run: bool = False
) -> FloatingMove:
    """Point ``float_tag`` at ``version``'s manifest on every app, after verifying them all."""
    require_floating_tag(float_tag)
    ctx.progress.step(f"Checking {version} on every app before moving {float_tag}.")
    if not dry_run:
        await authorize(ctx, write=True)
    states = await read_tag_states(ctx, version, float_tag)
    problems = tag_problems(ctx, states, version, None)
    if problems:
        raise CheckFailed(
            f"{float_tag} was not moved on any app: {version} is not complete:",
            problems,
            fix=f"Push {version} for every app and verify it, then move {float_tag}.",
        )
    digests = {app: s.version_digest for app, s in states.items() if s.version_digest}
    pending = tuple(app for app, s in states.items() if s.float_digest != s.version_digest)
    unchanged = tuple(app for app in ctx.apps if app not in pending)
    if dry_run or not pending:
        return FloatingMove(
            version, float_tag, digests, pending if dry_run else (), unchanged, dry_run
        )

    # The manifests verified above (their digests hashed from the bytes) are
    # what gets written: nothing is read between the check and the writes.
    manifests: dict[str, Manifest] = {
        app: manifest for app in pending if (manifest := states[app].manifest) is not None
    }

    async def write(app: str) -> str:
        return await ctx.registry.put_manifest(ctx.image_name(app), float_tag, manifests[app])

    # put_manifest itself refuses a registry that stored other bytes.
    await write_per_app(
        ctx,
        pending,
        write,
        what=f"{float_tag} -> {version}",
        fix=f"Move {float_tag} to {version} again (move-floating): the version is verified, "
        "and only the apps still behind are written.",
    )
    ctx.progress.step(f"Moved {float_tag} to {version} on {len(pending)} app(s).")
    return FloatingMove(version, float_tag, digests, pending, unchanged)
