"""After a promotion moves ``latest``: make sure it stayed on the highest release.

Two promotions of different versions at once (a laptop racing a CI run) each
plan before the other writes, so each believes its version is the newest and
moves ``latest``; whichever write lands last wins, app by app. A registry has
no compare-and-swap on tags, so the promotion re-reads after writing instead.

Per app, one tag list says the highest ``X.Y.Z``. Every promotion writes
``BASE`` on every app before any ``latest``, and checks after its own
``latest`` writes; so whichever promotion wrote ``latest`` last sees every
other one's release tag in its check. Hence: when the highest release is this
promotion's own, nothing more is read (a lower one that wrote after us sees
our tag and repairs itself); when a higher one exists, ``latest`` is read
(from the bytes) and put on that release if it names anything else. Repairs
are re-checked; if ``latest`` still moves after ``MAX_ROUNDS`` checks, the
promotion fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

import semver

from ..errors import RemoteError
from ..registry import Manifest
from ..versions import is_base_version
from .context import ReleaseContext, per_app, run_together, write_per_app
from .plan import LATEST
from .verify import read_manifest

# Checks (each after the repairs of the one before) before giving up.
MAX_ROUNDS = 3


@dataclass(frozen=True)
class LatestCheck:
    """Where ``latest`` ended, per the re-read after the promotion's writes."""

    # app -> the highest release on that app, which latest names.
    releases: dict[str, str]
    # Apps whose latest named something else and was put back.
    repaired: tuple[str, ...] = ()

    @property
    def highest(self) -> str:
        return max(self.releases.values(), key=semver.Version.parse)

    def sentence(self, base: str) -> str | None:
        """What to tell people, when there is something to tell."""
        if not self.repaired:
            return None
        apps = ", ".join(self.repaired)
        if self.highest == base:
            return (
                f"{LATEST} on {apps} was moved to another image after this promotion wrote it "
                f"(a concurrent promotion?); put back on {base}, the highest release."
            )
        return (
            f"{LATEST} on {apps} put on {self.highest}, the highest release: a newer release "
            f"than {base} was promoted meanwhile, so {LATEST} stays there."
        )


@dataclass(frozen=True)
class _AppLatest:
    release: str  # the highest release tag on the app
    target: Manifest  # that release's manifest
    current: str | None  # what latest names, None when absent

    @property
    def settled(self) -> bool:
        return self.current == self.target.digest


async def settle_latest(ctx: ReleaseContext, base: str) -> LatestCheck:
    """After ``base`` was promoted: re-read every app, repair ``latest`` toward the highest."""

    async def read(app: str) -> _AppLatest | None:
        return await _read_app(ctx, app, base)

    repaired: list[str] = []
    for _ in range(MAX_ROUNDS):
        states = await per_app(ctx.apps, read, progress=ctx.progress)
        behind = {app: s for app, s in states.items() if s is not None and not s.settled}
        if not behind:
            releases = {app: s.release if s else base for app, s in states.items()}
            return LatestCheck(releases, tuple(dict.fromkeys(repaired)))
        await _repair(ctx, behind)
        repaired += behind
    raise RemoteError(
        f"{LATEST} kept moving on {', '.join(dict.fromkeys(repaired))} while this promotion "
        f"checked it ({MAX_ROUNDS} repairs toward the highest release): another promotion "
        "is still writing it.",
        fix="Wait until no other promotion runs, then run the promotion of the highest "
        "version again: it puts latest on that release everywhere.",
    )


async def _repair(ctx: ReleaseContext, behind: dict[str, _AppLatest]) -> None:
    ctx.progress.step(
        f"{LATEST} does not name the highest release on {', '.join(behind)} after the "
        "writes (another promotion ran at the same time); repairing: "
        + ", ".join(f"{app} -> {state.release}" for app, state in behind.items())
        + "."
    )

    async def put(app: str) -> str:
        return await ctx.registry.put_manifest(ctx.image_name(app), LATEST, behind[app].target)

    await write_per_app(
        ctx,
        behind,
        put,
        what=f"the repair of {LATEST}",
        fix="Run the promotion of the highest version again once no other one runs.",
    )


async def _read_app(ctx: ReleaseContext, app: str, base: str) -> _AppLatest | None:
    """None when ``base`` is the app's highest release (see the module doc)."""
    tags = await ctx.registry.list_tags(ctx.image_name(app))
    releases = [t for t in tags if is_base_version(t)]
    highest = max([*releases, base], key=semver.Version.parse)
    if highest == base:
        return None
    target: Manifest | None = None
    latest: Manifest | None = None

    async def read_target() -> None:
        nonlocal target
        target = await read_manifest(ctx, app, highest)

    async def read_latest() -> None:
        nonlocal latest
        latest = await read_manifest(ctx, app, LATEST)

    await run_together(read_target, read_latest)  # one round trip
    if target is None:  # listed a moment ago, gone now: only a deletion does that
        raise RemoteError(
            f"{ctx.image_ref(app, highest)} was listed but cannot be read.",
            fix="Check that nobody deletes release tags, then promote again.",
        )
    return _AppLatest(highest, target, latest.digest if latest else None)
