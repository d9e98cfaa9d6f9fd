"""Move ``latest`` (or ``staging``) back to an earlier version on every app, all or nothing.

Everything is read and checked before the first write: every app must have
the version (else nothing is written), its Git tag must exist, and for
``latest`` its GitHub release too (with the GitHub API). Then, for ``latest``:
the rollback record first (``hold``: so that a re-run of the rolled-back
version's promotion cannot undo what follows), the floating tag on every app
that names something else (the exact manifest bytes of the version, so the
digest is the version's), and GitHub's "latest" release. ``staging`` gets no
record and no release: the next staging publish moves it on.

Each write happens only where the state differs, so a re-run (or a run after
a failure part-way) writes nothing twice and converges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import semver

from ..errors import CheckFailed, InputError
from ..github import Release
from ..registry import Manifest
from ..versions import is_base_version, parse_staging_version
from .context import ReleaseContext, authorize, per_app, run_together, write_per_app
from .hold import RollbackRecord, write_rollback_record
from .plan import LATEST
from .release import SKIPPED_NO_API
from .status import FLOATING, ReleaseStatus, read_status
from .verify import read_manifest


def require_rollback_target(version: str, float_tag: str) -> None:
    """Bad input, found before any request: the wrong kind of version for the tag."""
    if float_tag not in FLOATING:
        raise InputError(
            f"--float-tag {float_tag!r} is not a floating tag metaboost-ci moves.",
            fix="Use --float-tag latest (the default) or --float-tag staging.",
        )
    staged = parse_staging_version(version)
    if float_tag == LATEST and staged is not None:
        raise InputError(
            f"{version} is a staging build, and latest only ever names a release X.Y.Z.",
            fix=f"Roll latest back to a release (e.g. --to {staged.base}), or move staging "
            f"with --float-tag staging --to {version}.",
        )
    if float_tag == LATEST and not is_base_version(version):
        raise InputError(
            f"--to {version!r} is not a release version X.Y.Z.",
            fix="Give the release to go back to, e.g. --to 1.2.0.",
        )
    if float_tag != LATEST and staged is None:
        raise InputError(
            f"--to {version!r} is not a staging version X.Y.Z-staging.N.",
            fix="Give the staging build to go back to, e.g. --float-tag staging "
            "--to 1.2.0-staging.3.",
        )


@dataclass(frozen=True)
class AppRollback:
    app: str
    image: str
    # What the floating tag named before (None: absent, or a version not found).
    from_version: str | None
    from_digest: str | None
    to_digest: str

    @property
    def moves(self) -> bool:
        return self.from_digest != self.to_digest

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "from_version": self.from_version,
            "from_digest": self.from_digest,
            "to_digest": self.to_digest,
            "moves": self.moves,
        }


@dataclass(frozen=True)
class Rollback:
    float_tag: str
    version: str
    # The commit the version's Git tag names.
    commit: str
    apps: dict[str, AppRollback]
    # The rollback record: created | planned | unchanged | not-needed (staging: none).
    record: str
    record_tag: str | None
    # GitHub's latest release: marked | planned | unchanged | skipped | not-applicable.
    github_release: str
    dry_run: bool

    @property
    def moved(self) -> list[str]:
        return [app for app, a in self.apps.items() if a.moves]

    @property
    def changed(self) -> bool:
        return (
            bool(self.moved)
            or self.record in ("created", "planned")
            or (self.github_release in ("marked", "planned"))
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "float_tag": self.float_tag,
            "version": self.version,
            "commit": self.commit,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "moved": self.moved,
            "record": {"action": self.record, "tag": self.record_tag},
            "github_release": self.github_release,
            "apps": {app: a.to_dict() for app, a in self.apps.items()},
        }

    def lines(self) -> list[str]:
        """What happened, for people: a headline, then one line per app."""
        verb = "Dry run: would roll" if self.dry_run else "Rolled"
        if not self.changed:
            head = f"{self.float_tag} already names {self.version} everywhere: nothing to write."
        else:
            head = f"{verb} {self.float_tag} back to {self.version} ({self.commit[:12]})."
        lines = [head]
        for app, a in self.apps.items():
            was = a.from_version or (f"unknown {a.from_digest[:19]}" if a.from_digest else "absent")
            change = f"{was} -> {self.version}" if a.moves else f"{self.version} (unchanged)"
            lines.append(f"  {app}: {change}")
        if self.record_tag:
            lines.append(f"Rollback record {self.record_tag}: {self.record}.")
        if self.float_tag == LATEST:
            lines.append(f"GitHub release {self.version} as latest: {self.github_release}.")
        if self.dry_run:
            lines.append("Nothing was written (dry run).")
        return lines


async def rollback(
    ctx: ReleaseContext, *, version: str, float_tag: str = LATEST, dry_run: bool = False
) -> Rollback:
    """Point ``float_tag`` at ``version`` on every app; see the module doc."""
    require_rollback_target(version, float_tag)
    ctx.progress.step(
        f"Checking {version} on every app before moving {float_tag}"
        + (" (dry run: nothing is written)." if dry_run else ".")
    )
    await authorize(ctx, write=not dry_run)
    found: dict[str, Manifest | None] = {}
    states: list[ReleaseStatus] = []
    commits: list[str | None] = []

    async def read_targets() -> None:
        async def one(app: str) -> Manifest | None:
            return await read_manifest(ctx, app, version)

        found.update(await per_app(ctx.apps, one, progress=ctx.progress))

    async def read_state() -> None:
        states.append(await read_status(ctx))

    async def read_git_tag() -> None:
        commits.append(await ctx.tags.tag_commit(version))

    releases: list[Release | None] = []

    async def read_release() -> None:
        if float_tag == LATEST and ctx.github is not None:
            releases.append(await ctx.github.get_release(version))

    await run_together(read_targets, read_state, read_git_tag, read_release)
    status = states[0]
    manifests, commit = _require_complete(ctx, version, float_tag, found, commits[0])
    release = _require_release(version, releases)

    apps = {
        app: AppRollback(
            app,
            ctx.image(app),
            named.version if (named := status.apps[app].floating[float_tag]) else None,
            named.digest if named else None,
            manifests[app].digest,
        )
        for app in ctx.apps
    }
    record_action, record_tag, desired = _record_plan(status, version, float_tag)
    github = _github_plan(ctx, status, version, float_tag)
    if dry_run:
        return Rollback(
            float_tag, version, commit, apps, record_action, record_tag, github, dry_run=True
        )

    if desired is not None:
        written = await write_rollback_record(
            ctx, version=version, ceiling=desired, commit=commit, after=status.rollback
        )
        record_tag = written.tag

    async def put(app: str) -> str:
        return await ctx.registry.put_manifest(ctx.image_name(app), float_tag, manifests[app])

    moving = [app for app, a in apps.items() if a.moves]
    await write_per_app(
        ctx,
        moving,
        put,
        what=f"{float_tag} -> {version}",
        fix=f"Run the rollback to {version} again: it writes only what is still behind.",
    )
    if github == "planned" and ctx.github is not None and release is not None:
        await ctx.github.update_release(release.id, make_latest=True)
        github = "marked"
    ctx.progress.step(f"Moved {float_tag} to {version} on {len(moving)} app(s).")
    return Rollback(
        float_tag,
        version,
        commit,
        apps,
        "created" if record_action == "planned" else record_action,
        record_tag,
        github,
        dry_run=False,
    )


def _require_complete(
    ctx: ReleaseContext,
    version: str,
    float_tag: str,
    found: dict[str, Manifest | None],
    commit: str | None,
) -> tuple[dict[str, Manifest], str]:
    missing = [app for app, m in found.items() if m is None]
    if len(missing) == len(found):
        raise InputError(
            f"No app has {version}: it is not a published version of {ctx.repository}.",
            fix="Pick a version `metaboost-ci status` or the registry lists, e.g. the "
            "release before the current one.",
        )
    problems = [f"{ctx.image_ref(app, version)} does not exist." for app in missing]
    if commit is None:
        problems.append(f"Git tag {version} does not exist in {ctx.tags.description}.")
    if problems or commit is None:
        raise CheckFailed(
            f"{float_tag} was not moved on any app: {version} is not complete:",
            problems,
            fix=f"Roll back to a version every app has, with its Git tag (or publish {version} "
            "for every app first).",
        )
    return {app: m for app, m in found.items() if m is not None}, commit


def _require_release(version: str, read: list[Release | None]) -> Release | None:
    """GitHub release ``version`` as read (nothing read: not rolling ``latest`` back through
    the GitHub API), which rolling ``latest`` back makes the latest release."""
    if not read:
        return None
    release = read[0]
    if release is None:
        raise CheckFailed(
            f"latest was not moved on any app: GitHub release {version} does not exist, so it "
            "cannot be made the latest release.",
            fix=f"Create it (metaboost-ci release --tag {version} --commit SHA), then roll "
            "back again.",
        )
    return release


def _record_plan(
    status: ReleaseStatus, version: str, float_tag: str
) -> tuple[str, str | None, str | None]:
    """(action, record tag, the ceiling to record or None): a record only where it changes."""
    if float_tag != LATEST:
        return "not-applicable", None, None
    highest = status.highest_release or version
    current = status.rollback
    holding = current is not None and current.holds(highest)
    below = semver.Version.parse(version) < semver.Version.parse(highest)
    if below and holding and current and (current.version, current.ceiling) == (version, highest):
        return "unchanged", current.tag, None
    if not below and not holding:
        return "not-needed", None, None
    # A new hold below the highest release, or a roll-forward record that clears one.
    return "planned", _next_tag(current, version, highest), highest


def _next_tag(current: RollbackRecord | None, version: str, ceiling: str) -> str:
    number = current.number + 1 if current else 0
    return RollbackRecord(number, version, ceiling, "").tag


def _github_plan(ctx: ReleaseContext, status: ReleaseStatus, version: str, float_tag: str) -> str:
    if float_tag != LATEST:
        return "not-applicable"
    if ctx.github is None:
        return SKIPPED_NO_API
    return "unchanged" if status.github_latest == version else "planned"
