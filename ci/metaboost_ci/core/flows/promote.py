"""Promote a staging build to ``BASE`` and ``latest`` (the main branch's publish).

Executes a ``PromotionPlan``: ``BASE`` for all apps concurrently (where absent),
then ``latest`` (where it names something else, and only when no newer release
exists: see ``plan``) and, meanwhile, the Git tag ``BASE`` at the commit, then
the full release (GitHub's "latest" only when no newer release exists). Each
write re-puts the exact manifest bytes read during planning, so digests
(attestations included) are preserved. A run that failed half-way converges
when run again: the plan then finds ``BASE`` and ``latest`` already at the same
digest, the Git tag at the same commit, the release present; nothing is
written twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..github import Release
from .context import ReleaseContext, run_together, write_per_app
from .latest import LatestCheck, settle_latest
from .notes import fallback_notes
from .plan import LATEST, PromotionPlan, plan_promotion
from .release import UNREAD, ReleaseOutcome, Unread, ensure_tag, release
from .summary import ImageRow, PublishSummary


@dataclass(frozen=True)
class Promotion:
    plan: PromotionPlan
    # app -> the tags written (empty in a dry run).
    written: dict[str, tuple[str, ...]]
    # created | exists | planned
    git_tag: str
    release: ReleaseOutcome
    dry_run: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple[str, ...])
    # The re-read of latest after the writes (None: latest was not written).
    latest_check: LatestCheck | None = None

    @property
    def version(self) -> str:
        return self.plan.base

    @property
    def latest_is_ours(self) -> bool:
        """latest names this version: planned so, and no newer one landed meanwhile."""
        check = self.latest_check
        return self.plan.moves_latest and (check is None or check.highest == self.plan.base)

    def summary(self) -> PublishSummary:
        latest = (LATEST,) if self.latest_is_ours else ()
        rows = tuple(
            ImageRow(
                app=app, image=p.image, tags=(self.plan.base, *latest, p.source), digest=p.digest
            )
            for app, p in self.plan.apps.items()
        )
        # No float_tag when latest stayed: nothing downstream may read it as moved.
        float_tag = LATEST if self.latest_is_ours else None
        return PublishSummary(
            version=self.plan.base, images=rows, float_tag=float_tag, notes=self.notes
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "dry_run": self.dry_run,
            "plan": self.plan.to_dict(),
            "written": {app: list(tags) for app, tags in self.written.items()},
            "git_tag": self.git_tag,
            "release": self.release.to_dict(),
            "notes": list(self.notes),
            "latest_repaired": list(self.latest_check.repaired) if self.latest_check else [],
        }


async def promote(
    ctx: ReleaseContext,
    *,
    commit: str,
    base: str,
    notes: str | None = None,
    dry_run: bool = False,
    update_release: bool = False,
) -> Promotion:
    """Promote the staging build of ``commit`` to ``base`` and ``latest``; see the module doc."""
    plan = await plan_promotion(ctx, commit=commit, base=base, then_write=not dry_run)
    ctx.progress.step(
        f"Promoting {plan.source} to {base} and {LATEST} on {len(plan.apps)} apps"
        + (" (dry run: nothing is written)." if dry_run else ".")
    )
    body = notes if notes is not None else fallback_notes(base)
    kept = plan.latest_kept
    if kept:
        ctx.progress.step(kept)

    async def full_release(
        make_latest: bool = plan.moves_latest,
        existing: Release | Literal[Unread.UNREAD] | None = UNREAD,
    ) -> ReleaseOutcome:
        # The Git tag is handled here (planned, or created with the images).
        return await release(
            ctx,
            tag=base,
            commit=plan.commit,
            notes=body,
            prerelease=False,
            update_existing=update_release,
            dry_run=dry_run,
            ensure_git_tag=False,
            # An older version's release must not become GitHub's "latest" either.
            make_latest=make_latest,
            existing=existing,
        )

    if dry_run:
        outcome = await full_release()
        return Promotion(
            plan,
            {},
            "planned" if plan.git_tag == "create" else "exists",
            outcome,
            dry_run=True,
            notes=_notes(outcome, kept),
        )

    pending = [app for app, p in plan.apps.items() if not p.base_done]
    latest_pending = [
        app for app, p in plan.apps.items() if plan.moves_latest and not p.latest_done
    ]

    def put(tag: str) -> Callable[[str], Awaitable[str]]:
        async def one(app: str) -> str:
            return await ctx.registry.put_manifest(
                ctx.image_name(app), tag, plan.apps[app].manifest
            )

        return one

    # Every immutable tag first; only then the floating one (never a mix).
    rerun = "Run the promotion again: it re-plans, keeps what was written, and converges."
    await write_per_app(
        ctx, pending, put(base), what=f"{base} (latest not moved on any app)", fix=rerun
    )
    git_tag = plan.git_tag

    check: LatestCheck | None = None
    found: Release | Literal[Unread.UNREAD] | None = UNREAD

    async def move_latest() -> None:
        nonlocal check
        await write_per_app(ctx, latest_pending, put(LATEST), what=f"{LATEST} -> {base}", fix=rerun)
        if plan.moves_latest:
            # A concurrent promotion may have moved latest since: re-read,
            # repair toward the highest release, and say so.
            check = await settle_latest(ctx, base)
            if said := check.sentence(base):
                ctx.progress.step(said)

    async def tag_commit() -> None:
        nonlocal git_tag
        git_tag = await ensure_tag(ctx, base, plan.commit, known_absent=plan.git_tag == "create")

    async def find_release() -> None:
        nonlocal found
        if ctx.github is not None:
            found = await ctx.github.get_release(base)

    # BASE now names the same images on every app, so its Git tag is true
    # already: create it while latest moves and is checked, and look the
    # release up meanwhile (none waits for another); the release, which
    # announces the version, waits for all three.
    await run_together(move_latest, tag_commit, find_release)
    written = {
        app: ((base,) if app in pending else ()) + ((LATEST,) if app in latest_pending else ())
        for app in plan.apps
    }
    ctx.progress.step(
        f"Images promoted: {base} written on {len(pending)} app(s), "
        f"{LATEST} on {len(latest_pending)}."
    )
    ours = check is None or check.highest == base
    outcome = await full_release(make_latest=plan.moves_latest and ours, existing=found)
    told = _notes(outcome, kept)
    if check is not None and (said := check.sentence(base)):
        told = (said, *told)
    return Promotion(plan, written, git_tag, outcome, notes=told, latest_check=check)


def _notes(outcome: ReleaseOutcome, kept: str | None) -> tuple[str, ...]:
    notes = [kept] if kept else []
    if outcome.action == "skipped":
        notes.append(outcome.sentence())
    return tuple(notes)
