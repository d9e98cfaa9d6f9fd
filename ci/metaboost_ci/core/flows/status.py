"""What is deployed where: ``staging`` and ``latest`` on every app, and what disagrees.

Read-only. Per app: what each floating tag names (digest; the version tag
naming the same digest; the commit from the revision label; the creation time
from the image config), the newest staging build every app has, whether a
promotion is pending, and the inconsistencies: a floating tag on a mix of
versions, a release tag without its Git tag, ``latest`` not on the highest
release unless a rollback record holds it elsewhere (``hold``), GitHub's
"latest" release not the version ``latest`` names.

The requests do not grow with the number of tags: per app one tag list (one
page up to 1,000 tags), one manifest read per floating tag (two for an index)
plus its config, and one HEAD per candidate version (the one the image's
version label names, the newest complete staging build, the highest release,
the rollback's version); then one Git tag read per version named, the rollback
records, and GitHub's latest release.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import semver

from ..registry import Manifest
from ..registry.labels import ImageConfig, first_image_config
from ..versions import (
    STAGING,
    is_base_version,
    parse_staging_version,
    require_base_version,
    staging_numbers,
)
from .context import ReleaseContext, authorize, per_app, run_together
from .discover import AppTags, list_app_tags
from .hold import RollbackRecord, read_rollback_record
from .plan import LATEST
from .verify import REVISION_LABEL, head_digest, read_manifest

FLOATING = (STAGING, LATEST)
VERSION_LABEL = "org.opencontainers.image.version"


@dataclass(frozen=True)
class Named:
    """What a floating tag names on one app."""

    digest: str
    # The version tag naming the same digest (None: none of the candidates does).
    version: str | None
    revision: str | None
    created: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "version": self.version,
            "revision": self.revision,
            "created": self.created,
        }


@dataclass(frozen=True)
class AppStatus:
    app: str
    image: str
    # Floating tag -> what it names (None: the tag is absent).
    floating: dict[str, Named | None]
    tags: AppTags = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "exists": self.tags.exists,
            **{tag: n.to_dict() if n else None for tag, n in self.floating.items()},
        }


@dataclass(frozen=True)
class ReleaseStatus:
    repository: str
    base: str | None
    apps: dict[str, AppStatus]
    # The newest X.Y.Z-staging.N of ``base`` that every app has.
    newest_staging: str | None
    highest_release: str | None
    rollback: RollbackRecord | None
    # Version -> the commit its Git tag names (None: no Git tag), for every version shown.
    git_tags: dict[str, str | None]
    # GitHub's "latest" release; None without one, or without the GitHub API.
    github_latest: str | None
    uses_github: bool
    problems: tuple[str, ...]

    @property
    def consistent(self) -> bool:
        return not self.problems

    @property
    def rollback_in_force(self) -> bool:
        return self.rollback is not None and self.rollback.holds(self.highest_release)

    def versions(self, tag: str) -> dict[str, str | None]:
        """app -> the version ``tag`` names there (None: absent or unknown)."""
        return {app: n.version if (n := s.floating[tag]) else None for app, s in _i(self)}

    def common_version(self, tag: str) -> str | None:
        """The one version ``tag`` names on every app, else None (a mix, or absent)."""
        found = set(self.versions(tag).values())
        return found.pop() if len(found) == 1 else None

    @property
    def expected_latest(self) -> str | None:
        """Where ``latest`` belongs: the rollback's version while it holds, else the highest."""
        if self.rollback is not None and self.rollback_in_force:
            return self.rollback.version
        return self.highest_release

    @property
    def pending_promotion(self) -> str | None:
        """The newest complete staging build, when its version is not released and is newer
        than what ``latest`` names."""
        if self.newest_staging is None or self.base is None:
            return None
        if any(self.base in s.tags.tags for _, s in _i(self)):
            return None  # released (on some app at least: promote converges the rest)
        named = self.common_version(LATEST) or self.highest_release
        if named is not None and semver.Version.parse(named) >= semver.Version.parse(self.base):
            return None
        return self.newest_staging

    def to_dict(self) -> dict[str, Any]:
        rollback = self.rollback.to_dict(self.highest_release) if self.rollback else None
        return {
            "repository": self.repository,
            "consistent": self.consistent,
            "problems": list(self.problems),
            "base": self.base,
            "newest_staging": self.newest_staging,
            "pending_promotion": self.pending_promotion,
            "highest_release": self.highest_release,
            "expected_latest": self.expected_latest,
            "floating": {tag: self.versions(tag) for tag in FLOATING},
            "rollback": rollback,
            "git_tags": self.git_tags,
            "github_latest_release": self.github_latest if self.uses_github else None,
            "github_api": self.uses_github,
            "apps": {app: s.to_dict() for app, s in _i(self)},
        }

    def markdown(self) -> str:
        """The job-summary form: one table, then the facts and the problems."""
        verdict = "consistent" if self.consistent else f"{len(self.problems)} problem(s)"
        lines = [f"### Release status: {verdict}", ""]
        lines += ["| app | staging | latest | latest digest | revision | created |"]
        lines += ["|---|---|---|---|---|---|"]
        for app, s in _i(self):
            staging, latest = s.floating[STAGING], s.floating[LATEST]
            lines.append(
                f"| {app} | {named_cell(staging)} | {named_cell(latest)} | "
                f"{f'`{latest.digest}`' if latest else '-'} | "
                f"{(latest.revision or '-')[:12] if latest else '-'} | "
                f"{(latest.created or '-') if latest else '-'} |"
            )
        lines += ["", *(f"- {fact}" for fact in self.facts())]
        if self.problems:
            lines += ["", "**Problems**", "", *(f"- {p}" for p in self.problems)]
        return "\n".join(lines) + "\n"

    def facts(self) -> list[str]:
        """The lines under the table, for people (the table text and the Markdown)."""
        facts = [
            f"Highest release: {self.highest_release or 'none'}.",
            f"Newest complete staging build of {self.base or '(no staging build)'}: "
            f"{self.newest_staging or 'none'}.",
        ]
        pending = self.pending_promotion
        facts.append(f"Pending promotion: {pending}." if pending else "No promotion pending.")
        if self.rollback is not None and self.rollback_in_force:
            facts.append(
                f"Rolled back: latest is held at {self.rollback.version} by Git tag "
                f"{self.rollback.tag} (cleared by promoting a release above "
                f"{self.rollback.ceiling}, or by `rollback --to {self.rollback.ceiling}`)."
            )
        if self.uses_github:
            facts.append(f"GitHub's latest release: {self.github_latest or 'none'}.")
        return facts


def _i(status: ReleaseStatus) -> Iterable[tuple[str, AppStatus]]:
    return status.apps.items()


def named_cell(named: Named | None) -> str:
    """A table cell: the version, or the digest of an image no version tag was found for."""
    if named is None:
        return "-"
    return named.version or f"unknown ({named.digest[:19]})"


def _highest(versions: Iterable[str]) -> str | None:
    return max(versions, key=semver.Version.parse, default=None)


def current_base(tags: Iterable[AppTags]) -> str | None:
    """The highest X.Y.Z with a staging build on any app: the line being worked on."""
    bases = {s.base for t in tags for tag in t.tags if (s := parse_staging_version(tag))}
    return _highest(bases)


def newest_complete(tags: Iterable[AppTags], base: str) -> str | None:
    """The highest ``base-staging.N`` every app lists."""
    sets = [set(t.staging) for t in tags]
    common: set[int] = set[int].intersection(*sets) if sets else set()
    return f"{base}-{STAGING}.{max(common)}" if common else None


async def _read_named(ctx: ReleaseContext, app: str) -> tuple[AppTags, dict[str, Manifest | None]]:
    """The tag list and each floating tag's manifest (one GET each, concurrently)."""
    found: dict[str, Manifest | None] = {}
    listed: list[AppTags] = []

    def read(tag: str) -> Callable[[], Awaitable[None]]:
        async def one() -> None:
            found[tag] = await read_manifest(ctx, app, tag)

        return one

    async def listing() -> None:
        listed.append(await list_app_tags(ctx, app, ""))

    await run_together(listing, *(read(tag) for tag in FLOATING))
    return listed[0], {tag: found[tag] for tag in FLOATING}


async def read_status(ctx: ReleaseContext, *, base: str | None = None) -> ReleaseStatus:
    """Everything ``status`` shows; reads only."""
    if base is not None:
        require_base_version(base)
    ctx.progress.step(f"Reading staging and latest on {len(ctx.apps)} apps.")
    await authorize(ctx, write=False)
    reads: dict[str, tuple[AppTags, dict[str, Manifest | None]]] = {}
    records: list[RollbackRecord] = []
    github_latest: list[str] = []

    async def registry() -> None:
        async def one(app: str) -> tuple[AppTags, dict[str, Manifest | None]]:
            return await _read_named(ctx, app)

        reads.update(await per_app(ctx.apps, one, progress=ctx.progress))

    async def hold() -> None:
        if record := await read_rollback_record(ctx):
            records.append(record)

    async def github() -> None:
        if ctx.github is not None and (latest := await ctx.github.get_latest_release()):
            github_latest.append(latest.tag_name)

    await run_together(registry, hold, github)
    tags = [listed for listed, _ in reads.values()]
    base = base or current_base(tags)
    if base is not None:
        tags = [replace(t, staging=tuple(staging_numbers(t.tags, base))) for t in tags]
    newest = newest_complete(tags, base) if base else None
    releases = {tag for t in tags for tag in t.tags if is_base_version(tag)}
    highest = _highest(releases)
    record = records[0] if records else None

    async def resolve(app: str) -> AppStatus:
        listed = next(t for t in tags if t.app == app)
        return await _resolve_app(ctx, app, listed, reads[app][1], newest, highest, record)

    apps = await per_app(ctx.apps, resolve, progress=ctx.progress)
    shown = {n.version for s in apps.values() for n in s.floating.values() if n and n.version}
    shown |= {v for v in (newest, highest, record.version if record else None) if v}
    git_tags = await _git_tags(ctx, sorted(shown))
    read = ReleaseStatus(
        ctx.repository,
        base,
        apps,
        newest,
        highest,
        record,
        git_tags,
        github_latest[0] if github_latest else None,
        ctx.github is not None,
        (),
    )
    return replace(read, problems=tuple(_problems(ctx, read, releases)))


async def _resolve_app(
    ctx: ReleaseContext,
    app: str,
    listed: AppTags,
    manifests: dict[str, Manifest | None],
    newest: str | None,
    highest: str | None,
    record: RollbackRecord | None,
) -> AppStatus:
    """Read each floating tag's config, then find which candidate version names its digest."""
    configs: dict[str, ImageConfig] = {}
    for digest, manifest in {m.digest: m for m in manifests.values() if m}.items():
        configs[digest] = await first_image_config(ctx.registry, ctx.image_name(app), manifest)
    candidates: dict[str, list[str]] = {tag: [] for tag in FLOATING}
    for tag, manifest in manifests.items():
        if manifest is None:
            continue
        label = configs[manifest.digest].labels.get(VERSION_LABEL, "")
        staged = parse_staging_version(label)
        if tag == STAGING:
            candidates[tag] += [label if staged else "", newest or ""]
        else:
            held = record.version if record else ""
            candidates[tag] += [staged.base if staged else label, held, highest or ""]
    wanted = {v for vs in candidates.values() for v in vs if v and v in listed.tags}

    async def digest_of(version: str) -> str | None:
        return await head_digest(ctx, app, version)

    digests = await per_app(sorted(wanted), digest_of)
    floating: dict[str, Named | None] = {}
    for tag, manifest in manifests.items():
        if manifest is None:
            floating[tag] = None
            continue
        config = configs[manifest.digest]
        matches = [v for v in candidates[tag] if v and digests.get(v) == manifest.digest]
        floating[tag] = Named(
            manifest.digest,
            matches[0] if matches else None,
            config.labels.get(REVISION_LABEL),
            config.created,
        )
    return AppStatus(app, ctx.image(app), floating, listed)


async def _git_tags(ctx: ReleaseContext, versions: list[str]) -> dict[str, str | None]:
    return await per_app(versions, ctx.tags.tag_commit, progress=ctx.progress)


def _problems(ctx: ReleaseContext, status: ReleaseStatus, releases: set[str]) -> list[str]:
    problems: list[str] = []
    for tag in FLOATING:
        named = {app: s.floating[tag] for app, s in _i(status)}
        kinds = {(n.version or n.digest) if n else None for n in named.values()}
        if len(kinds) > 1:
            problems.append(f"{tag} names a mix across apps: {_mix(named)}.")
    for version, commit in status.git_tags.items():
        if commit is None and version in releases:
            problems.append(
                f"Release {version} is on the registry but has no Git tag in "
                f"{ctx.tags.description}."
            )
    expected = status.expected_latest
    latest = status.versions(LATEST)
    off = [app for app, v in latest.items() if v != expected]
    if expected is not None and off:
        why = (
            f"the rollback recorded as {status.rollback.tag} holds it at {expected}"
            if status.rollback is not None and status.rollback_in_force
            else f"the highest release is {expected} and no rollback record holds it elsewhere"
        )
        problems.append(f"latest is not on {expected} on {', '.join(off)}: {why}.")
    common = status.common_version(LATEST)
    if status.uses_github and common and status.github_latest not in (None, common):
        problems.append(
            f"GitHub marks release {status.github_latest} as latest, but latest names {common}."
        )
    return problems


def _mix(named: dict[str, Named | None]) -> str:
    groups: dict[str, list[str]] = {}
    for app, n in named.items():
        key = "absent" if n is None else n.version or f"unknown image {n.digest[:19]}"
        groups.setdefault(key, []).append(app)
    return "; ".join(f"{key} on {', '.join(apps)}" for key, apps in groups.items())
