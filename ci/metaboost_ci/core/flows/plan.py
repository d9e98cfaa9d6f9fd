"""Choose what a promotion will do, reading only: the plan ``promote`` executes.

The old workflow took the minimum over apps of each app's highest staging N,
which can name an N some app lacks, and never checked what commit the images
came from. Here the chosen N is the highest one such that every app has
``BASE-staging.N`` and the Git tag ``BASE-staging.N`` points at the commit being
promoted; an image's ``org.opencontainers.image.revision`` label, when present,
must name that commit too. ``BASE`` is checked on every app before anything is
written: absent, or already the same digest (a re-run); else the promotion is
refused, because an immutable tag never moves.

``latest`` names the highest release: when some app already has a release
tag above ``BASE`` (a re-run of an older main commit, a hotfix on an older
line), ``latest`` is left where it is on every app and the GitHub release is
not made "latest". Likewise while a rollback record holds ``latest`` at an
older release (``hold``): a re-run of the rolled-back version's promotion
must not undo the rollback. Where ``latest`` already names the image, it is
not written again.

Requests per app on the usual path: one tag list, one manifest read, one or
two reads for the revision label, and (in ``promote``) one write per target
tag. The tag list doubles as the check of the targets: ``BASE`` and ``latest``
are read (GET, their digests hashed from the bytes, concurrently) only when
the registry lists them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import semver

from ..errors import CheckFailed, MetaboostCiError
from ..registry import Manifest
from ..tags import require_commit_sha
from ..versions import is_base_version, parse_staging_n, require_base_version, staging_tag
from .context import ReleaseContext, authorize, per_app, run_together
from .discover import list_app_tags
from .hold import RollbackRecord, read_rollback_record
from .verify import REVISION_LABEL, read_manifest

LATEST = "latest"


@dataclass(frozen=True)
class AppState:
    """What the registry holds for one app before the promotion."""

    app: str
    staging: frozenset[int]
    # The digest BASE names, None when absent.
    base_digest: str | None
    # The digest latest names, None when absent.
    latest_digest: str | None = None
    # The highest release tag (X.Y.Z) above BASE, None when BASE is the highest.
    newer_release: str | None = None


@dataclass(frozen=True)
class AppPlan:
    app: str
    image: str
    source: str
    digest: str
    # True when BASE already names ``digest`` (a re-run): no write needed.
    base_done: bool
    # The revision label of the image (first runnable platform), when present.
    revision: str | None
    manifest: Manifest = field(repr=False, compare=False)
    # True when latest already names ``digest``: no write needed.
    latest_done: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "image": self.image,
            "source": self.source,
            "digest": self.digest,
            "base": "exists" if self.base_done else "create",
            "latest": "exists" if self.latest_done else "move",
            "revision": self.revision,
        }


@dataclass(frozen=True)
class PromotionPlan:
    base: str
    commit: str
    n: int
    apps: dict[str, AppPlan]
    # create | exists
    git_tag: str
    # Higher candidates that were passed over, and why.
    passed_over: tuple[str, ...] = ()
    # The highest release above BASE on any app: latest then stays where it is.
    newer_release: str | None = None
    # The rollback record that holds latest below BASE (see ``hold``), if any.
    held_by: RollbackRecord | None = None

    @property
    def source(self) -> str:
        return staging_tag(self.base, self.n)

    @property
    def moves_latest(self) -> bool:
        """False when a newer release exists, or a rollback holds ``latest`` back."""
        return self.newer_release is None and self.held_by is None

    @property
    def latest_kept(self) -> str | None:
        """The sentence saying why ``latest`` stays, when it does."""
        if self.newer_release is not None:
            return (
                f"{LATEST} left as it is: {self.newer_release} is a newer release than "
                f"{self.base} (latest names the highest release)."
            )
        if self.held_by is not None:
            held = self.held_by
            return (
                f"{LATEST} left at {held.version}: the rollback recorded as Git tag {held.tag} "
                f"holds it there until a release above {held.ceiling} is promoted (or "
                f"`metaboost-ci rollback --to {held.ceiling}` rolls forward)."
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "commit": self.commit,
            "n": self.n,
            "source": self.source,
            "git_tag": self.git_tag,
            "passed_over": list(self.passed_over),
            "newer_release": self.newer_release,
            "held_by_rollback": self.held_by.tag if self.held_by else None,
            "moves_latest": self.moves_latest,
            "apps": {name: self._app_dict(app) for name, app in self.apps.items()},
        }

    def _app_dict(self, app: AppPlan) -> dict[str, Any]:
        # An app's own view of latest yields to the plan's: kept when newer exists.
        data = app.to_dict()
        if not self.moves_latest:
            data["latest"] = "kept"
        return data


def revision_matches(label: str, commit: str) -> bool:
    """A full SHA, or an abbreviation of at least 7 characters, naming ``commit``."""
    label = label.strip().lower()
    return len(label) >= 7 and commit.startswith(label)


def newer_release(tags: Iterable[str], base: str) -> str | None:
    """The highest release tag (strict ``X.Y.Z``) above ``base``, or None."""
    floor = semver.Version.parse(base)
    newer = [v for t in tags if is_base_version(t) and (v := semver.Version.parse(t)) > floor]
    return str(max(newer)) if newer else None


async def _app_state(ctx: ReleaseContext, app: str, base: str) -> AppState:
    listed = await list_app_tags(ctx, app, base)

    async def read(tag: str) -> str | None:
        # Read, not HEAD: the summary publishes BASE and latest as naming the
        # promoted digest when they already do, so that must come from the bytes.
        manifest = await read_manifest(ctx, app, tag)
        return manifest.digest if manifest else None

    # Only the tags the list names; both reads at once (one round trip).
    present = [tag for tag in (base, LATEST) if tag in listed.tags]
    digests = await per_app(present, read)
    return AppState(
        app,
        frozenset(listed.staging),
        digests.get(base),
        digests.get(LATEST),
        newer_release(listed.tags, base),
    )


async def _runnable_labels(ctx: ReleaseContext, app: str, manifest: Manifest) -> dict[str, str]:
    """The labels of the first runnable image (one build, one commit: one is enough)."""
    name = ctx.image_name(app)
    if not manifest.is_index:
        found = await ctx.registry.image_labels(name, manifest.digest, source=manifest)
        return found[0] if found else {}  # pragma: no mutate (labels of one image: never empty)
    for child in manifest.children():
        if not child.is_attestation:
            found = await ctx.registry.image_labels(name, child.digest)
            return found[0] if found else {}  # pragma: no mutate (labels of one image: never empty)
    return {}


def _no_candidate_problems(
    ctx: ReleaseContext,
    base: str,
    commit: str,
    git_tags: dict[int, str],
    states: dict[str, AppState],
) -> list[str]:
    problems: list[str] = []
    if git_tags:
        listed = ", ".join(f"{n} at {c[:12]}" for n, c in sorted(git_tags.items()))
        problems.append(f"Git tags {base}-staging.N: {listed}.")
    else:
        problems.append(f"No Git tag {base}-staging.N exists in {ctx.tags.description}.")
    for app, state in states.items():
        if not state.staging:
            problems.append(f"{ctx.image(app)} has no {base}-staging.N tag.")
            continue
        built = ", ".join(
            f"{n} (from {git_tags[n][:12]})" if n in git_tags else f"{n} (no Git tag)"
            for n in sorted(state.staging)
        )
        problems.append(f"{ctx.image(app)} has N = {built}.")
    at_commit = sorted(n for n, c in git_tags.items() if c == commit)
    if at_commit:
        problems.append(
            f"N built from {commit[:12]}: {', '.join(map(str, at_commit))}; "
            "no app may lack the chosen N."
        )
    return problems


async def plan_promotion(
    ctx: ReleaseContext, *, commit: str, base: str, then_write: bool = False
) -> PromotionPlan:
    """Decide the promotion of ``commit`` to ``base``, reading only (no write of any kind).

    ``then_write``: the caller writes next, so the registry token got here
    covers pushing too (the plan's reads and the writes then share one).
    """
    commit = require_commit_sha(commit)
    require_base_version(base)
    ctx.progress.step(f"Planning the promotion of {commit[:12]} to {base}.")
    store_tags: dict[str, str] = {}
    store_read = anyio.Event()
    states: dict[str, AppState] = {}
    records: list[RollbackRecord] = []
    early: dict[tuple[str, str], _Source] = {}

    async def read_store() -> None:
        # One listing gives both BASE and every BASE-staging.N.
        try:
            store_tags.update(await ctx.tags.list_tags(base))
        finally:
            store_read.set()

    async def read_early(app: str) -> None:
        # The N a plan nearly always chooses is the highest whose Git tag is at
        # the commit: read its manifest and labels while the tag list is on its
        # way (a round trip saved). Only a guess: any failure leaves it to the plan.
        await store_read.wait()
        at_commit = [
            n
            for t, c in store_tags.items()
            if c == commit and (n := parse_staging_n(t, base)) is not None
        ]
        if at_commit:
            source = staging_tag(base, max(at_commit))
            with contextlib.suppress(MetaboostCiError):
                early[app, source] = await _read_source(ctx, app, source)

    async def read_registry() -> None:
        async def one(app: str) -> AppState:
            state: list[AppState] = []

            async def read_state() -> None:
                state.append(await _app_state(ctx, app, base))

            await run_together(read_state, lambda: read_early(app))
            return state[0]

        # Here, not before the three reads: the registry's challenge and token
        # (two round trips when cold) overlap the Git store's reads.
        await authorize(ctx, write=then_write)
        states.update(await per_app(ctx.apps, one, progress=ctx.progress))

    async def read_hold() -> None:
        if record := await read_rollback_record(ctx):
            records.append(record)

    await run_together(read_store, read_registry, read_hold)

    base_commit = store_tags.get(base)
    if base_commit is not None and base_commit != commit:
        raise CheckFailed(
            f"Git tag {base} already points at {base_commit}, not at {commit}; refusing to "
            "promote (nothing was written).",
            fix=f"{base} was released from another commit; bump the version for this one.",
        )
    git_tags = {n: c for t, c in store_tags.items() if (n := parse_staging_n(t, base)) is not None}
    candidates = sorted(
        (
            n
            for n, c in git_tags.items()
            if c == commit and all(n in s.staging for s in states.values())
        ),
        reverse=True,
    )
    if not candidates:
        raise CheckFailed(
            f"No {base}-staging.N can be promoted for commit {commit}: none is present on "
            "every app with its Git tag at this commit.",
            _no_candidate_problems(ctx, base, commit, git_tags, states),
            fix="Publish staging from this commit (every app), then promote again.",
        )
    passed_over: list[str] = []
    conflicts: list[str] = []
    for n in candidates:
        plan_apps, revisions, clashes = await _try_candidate(ctx, base, commit, n, states, early)
        if not revisions and not clashes:
            if passed_over:
                ctx.progress.step(f"Chose {staging_tag(base, n)}; passed over: {passed_over}")
            newer = [s.newer_release for s in states.values() if s.newer_release]
            highest = max(newer, key=semver.Version.parse, default=base)
            held = [r for r in records if r.holds_back(base, highest)]
            return PromotionPlan(
                base,
                commit,
                n,
                plan_apps,
                git_tag="exists" if base_commit else "create",
                passed_over=tuple(passed_over),
                newer_release=max(newer, key=semver.Version.parse, default=None),
                held_by=held[0] if held else None,
            )
        passed_over += revisions + clashes
        conflicts += clashes
    if conflicts and len(conflicts) == len(passed_over):
        # Every candidate failed only because BASE already names other images.
        raise CheckFailed(
            f"Refusing to promote to {base}: it already exists with other images "
            "(nothing was written):",
            conflicts,
            fix=f"Immutable tags never move; release this commit as a new version "
            f"(bump past {base}).",
        )
    raise CheckFailed(
        f"No {base}-staging.N built from {commit} can be promoted (nothing was written):",
        passed_over,
        fix="Publish staging from this commit again, then promote.",
    )


@dataclass(frozen=True)
class _Source:
    """A staging manifest and the revision label of its first runnable image."""

    manifest: Manifest
    revision: str | None


async def _read_source(ctx: ReleaseContext, app: str, source: str) -> _Source:
    manifest = await ctx.registry.get_manifest(ctx.image_name(app), source)
    return _Source(manifest, (await _runnable_labels(ctx, app, manifest)).get(REVISION_LABEL))


async def _try_candidate(
    ctx: ReleaseContext,
    base: str,
    commit: str,
    n: int,
    states: dict[str, AppState],
    early: dict[tuple[str, str], _Source],
) -> tuple[dict[str, AppPlan], list[str], list[str]]:
    """Read every app's manifest of ``BASE-staging.n`` (unless read ``early``); returns
    the plans, the revision-label disagreements and the clashes with an existing ``BASE``."""
    source = staging_tag(base, n)

    async def one(app: str) -> tuple[AppPlan, str | None, str | None]:
        read = early.get((app, source)) or await _read_source(ctx, app, source)
        manifest, revision = read.manifest, read.revision
        state = states[app]
        plan = AppPlan(
            app,
            ctx.image(app),
            source,
            manifest.digest,
            base_done=state.base_digest == manifest.digest,
            revision=revision,
            manifest=manifest,
            latest_done=state.latest_digest == manifest.digest,
        )
        disagreement = clash = None
        if revision and not revision_matches(revision, commit):
            disagreement = (
                f"{ctx.image_ref(app, source)} was built from {revision} "
                f"(its {REVISION_LABEL} label), not {commit}."
            )
        if state.base_digest is not None and state.base_digest != manifest.digest:
            clash = (
                f"{ctx.image_ref(app, base)} already names {state.base_digest}, not "
                f"{source}'s {manifest.digest}; immutable tags never move."
            )
        return plan, disagreement, clash

    results = await per_app(ctx.apps, one, progress=ctx.progress)
    revisions = [r for _, r, _ in results.values() if r]
    clashes = [c for _, _, c in results.values() if c]
    return {app: plan for app, (plan, _, _) in results.items()}, revisions, clashes
