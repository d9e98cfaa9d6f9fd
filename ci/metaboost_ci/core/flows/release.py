"""GitHub releases.

Their notes come from ``notes.read_release_notes`` (the changelog, or a
sentence naming it, as the old workflow did). A release is found by its tag
(never by listing the first page of releases), so a re-run leaves it alone,
or updates its body when asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Literal, cast

from ..errors import CheckFailed, InputError
from ..github import Release
from ..tags import TagCreate
from ..versions import base_version, parse_staging_version, require_base_version
from .context import ReleaseContext, require_commit_exists

SKIPPED_NO_API = "skipped: the tag store is a Git remote, which has no release API"


def base_of_tag(tag: str) -> str:
    """``1.2.0-staging.3`` and ``1.2.0`` both have base ``1.2.0``."""
    staging = parse_staging_version(tag)
    if staging is not None:
        return staging.base
    try:
        return require_base_version(base_version(tag), what="release tag's base")
    except ValueError:
        raise InputError(
            f"Release tag {tag!r} is neither X.Y.Z nor X.Y.Z-staging.N.",
            fix="Give the version tag, e.g. 1.2.0 or 1.2.0-staging.3.",
        ) from None


@dataclass(frozen=True)
class ReleaseOutcome:
    tag: str
    # created | exists | updated | skipped | planned
    action: str
    prerelease: bool
    url: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseOutcome:
        """The outcome ``to_dict`` wrote (``release --json``, as the Dagger layer reads it)."""
        return cls(
            tag=str(data["tag"]),
            action=str(data["action"]),
            prerelease=bool(data["prerelease"]),
            url=cast(str | None, data.get("url")),
            reason=cast(str | None, data.get("reason")),
        )

    def sentence(self) -> str:
        """What happened, for people (the command line and the publish summaries)."""
        action, tag, url, reason = self.action, self.tag, self.url, self.reason
        where = f" {url}" if url else ""
        return {
            "created": f"GitHub release {tag} created.{where}",
            "exists": f"GitHub release {tag} already existed; left as it is.{where}",
            "updated": f"GitHub release {tag} updated.{where}",
            "skipped": f"GitHub release {tag} {reason or 'skipped'}.",
            "planned": (
                f"Dry run: GitHub release {tag} {reason or 'planned'} (nothing was written)."
            ),
        }.get(action, f"GitHub release {tag}: {action}.")


async def ensure_tag(
    ctx: ReleaseContext,
    tag: str,
    commit: str,
    *,
    dry_run: bool = False,
    known_absent: bool = False,
) -> str:
    """Make the Git tag ``tag`` name ``commit``; an existing tag must already name it.

    ``known_absent``: the caller just listed the tags and ``tag`` was not among
    them, so go straight to the (atomic) create. Returns ``created``,
    ``exists`` or ``planned`` (dry run).
    """
    existing = None if known_absent else await ctx.tags.tag_commit(tag)
    if existing is None:
        if dry_run:
            await require_commit_exists(ctx, commit)
            return "planned"
        if await ctx.tags.create_tag(tag, commit) is TagCreate.CREATED:
            ctx.progress.step(f"Created Git tag {tag} at {commit[:12]}.")
            return "created"
        # Somebody created it between our read and our create: judge what they made.
        existing = await ctx.tags.tag_commit(tag)
    if existing != commit:
        raise CheckFailed(
            f"Git tag {tag} already points at commit {existing}, not {commit}.",
            fix="Tags are never moved; release the commit the tag names, or choose another "
            "version.",
        )
    return "exists"


class Unread(Enum):
    """The release of a tag, not looked up yet: ``release`` reads it."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


async def release(
    ctx: ReleaseContext,
    *,
    tag: str,
    commit: str,
    notes: str,
    prerelease: bool,
    update_existing: bool = False,
    dry_run: bool = False,
    ensure_git_tag: bool = True,
    make_latest: bool = True,
    existing: Release | Literal[Unread.UNREAD] | None = UNREAD,
) -> ReleaseOutcome:
    """Create the GitHub release of ``tag`` (staging: prerelease; main: full, made latest).

    ``make_latest``: whether GitHub marks a full release "latest" (a prerelease
    never is; promote says False for an older version).

    The Git tag is created at ``commit`` first when absent (an existing tag must
    name ``commit``); ``ensure_git_tag=False`` is for a caller that has just
    done that itself (promote). An existing release is left alone, or gets ``notes`` as
    its body with ``update_existing``. Without a GitHub API (Git-remote tag
    store) the release is skipped and the outcome says so. ``existing``: the
    release of ``tag`` (or None) when the caller read it meanwhile (promote).
    """
    if ensure_git_tag:
        await ensure_tag(ctx, tag, commit, dry_run=dry_run)
    if ctx.github is None:
        ctx.progress.step(f"Release {tag}: {SKIPPED_NO_API}.")
        return ReleaseOutcome(
            tag=tag, action="skipped", prerelease=prerelease, reason=SKIPPED_NO_API
        )
    if existing is UNREAD:
        existing = await ctx.github.get_release(tag)
    if existing is not None:
        # GitHub holds the body as sent (redacted), so that is what a re-run
        # compares with, or it never converges.
        if update_existing and existing.body != ctx.github.as_sent(notes):
            if dry_run:
                return ReleaseOutcome(
                    tag=tag,
                    action="planned",
                    prerelease=prerelease,
                    url=existing.html_url,
                    reason="would get the new body",
                )
            updated = await ctx.github.update_release(existing.id, body=notes)
            ctx.progress.step(f"Updated the body of release {tag}.")
            return ReleaseOutcome(
                tag=tag, action="updated", prerelease=prerelease, url=updated.html_url
            )
        return ReleaseOutcome(
            tag=tag, action="exists", prerelease=existing.prerelease, url=existing.html_url
        )
    if dry_run:
        return ReleaseOutcome(
            tag=tag, action="planned", prerelease=prerelease, reason="would be created"
        )
    created = await ctx.github.create_release(
        tag=tag,
        name=tag,
        body=notes,
        prerelease=prerelease,
        # Staging prereleases must never become "latest"; main releases do,
        # unless a newer release exists (promote says so).
        make_latest=make_latest and not prerelease,
        # Made or checked at the commit just before: by ensure_tag here, or by
        # promote (which passes ensure_git_tag=False for that reason).
        tag_verified=True,
    )
    ctx.progress.step(f"Created {'pre' if prerelease else ''}release {tag}.")
    return ReleaseOutcome(tag, "created", prerelease, created.html_url)
