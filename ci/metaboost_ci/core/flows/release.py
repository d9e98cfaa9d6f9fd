"""GitHub releases and their notes.

Notes come from ``docs/development/CHANGELOGS/<BASE>.md`` at the released
commit (a checkout given with ``--source``, or ``git show COMMIT:path`` in the
current clone), or a sentence naming the missing file, as the old workflow did.
A release is found by its tag (never by listing the first page of releases),
so a re-run leaves it alone, or updates its body when asked.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckFailed, ConfigError, InputError
from ..tags import TagCreate
from ..versions import base_version, parse_staging_version, require_base_version
from .context import ReleaseContext, require_commit_exists

CHANGELOG_DIR = "docs/development/CHANGELOGS"
SKIPPED_NO_API = "skipped: the tag store is a Git remote, which has no release API"


def changelog_path(base: str) -> str:
    """The changelog of ``base``, relative to the monorepo root."""
    return f"{CHANGELOG_DIR}/{require_base_version(base)}.md"


def fallback_notes(base: str) -> str:
    """The body used when the changelog is missing: it names the file to write."""
    return (
        f"No release notes: {changelog_path(base)} was not found at this commit. "
        f"Add that file to record the changes in {base}."
    )


@dataclass(frozen=True)
class ReleaseNotes:
    text: str
    path: str
    # False when the changelog was missing and ``text`` is the fallback sentence.
    found: bool
    # Where it was read: a directory, or "git show <commit>".
    origin: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def read_release_notes(
    base: str,
    *,
    commit: str | None = None,
    source: Path | None = None,
    repo: Path | None = None,
) -> ReleaseNotes:
    """The changelog of ``base`` from ``source``, else from ``commit`` in the clone ``repo``."""
    path = changelog_path(base)
    if source is not None:
        file = source / path
        if not source.is_dir():
            raise ConfigError(
                f"Source directory {source} does not exist.",
                fix="Pass --source with the monorepo checkout of the released commit.",
            )
        if file.is_file():
            return ReleaseNotes(file.read_text(encoding="utf-8"), path, True, str(source))
        return ReleaseNotes(fallback_notes(base), path, False, str(source))
    if commit is None:
        raise InputError(
            "Release notes need a commit or a source directory.",
            fix="Pass --commit SHA (read with git show) or --source DIR.",
        )
    return _notes_from_git(base, commit, repo or Path.cwd())


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )


def _notes_from_git(base: str, commit: str, repo: Path) -> ReleaseNotes:
    path = changelog_path(base)
    origin = f"git show {commit[:12]}"
    # A commit missing from this clone must not read as "no changelog".
    if _git(repo, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise ConfigError(
            f"Commit {commit} is not in the Git repository at {repo}, so its changelog "
            "cannot be read.",
            fix="Run in a clone that has the commit (git fetch), or pass --source DIR.",
        )
    shown = _git(repo, "show", f"{commit}:{path}")
    if shown.returncode == 0:
        return ReleaseNotes(shown.stdout, path, True, origin)
    return ReleaseNotes(fallback_notes(base), path, False, origin)


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

    def sentence(self) -> str:
        """What happened, for people (the command line and the publish summaries)."""
        return release_sentence(self.action, self.tag, self.url, self.reason)


def release_sentence(action: str, tag: str, url: str | None, reason: str | None) -> str:
    """One sentence for a release outcome (also for outcomes read back from ``--json``)."""
    where = f" {url}" if url else ""
    return {
        "created": f"GitHub release {tag} created.{where}",
        "exists": f"GitHub release {tag} already existed; left as it is.{where}",
        "updated": f"GitHub release {tag} updated.{where}",
        "skipped": f"GitHub release {tag} {reason or 'skipped'}.",
        "planned": f"Dry run: GitHub release {tag} {reason or 'planned'} (nothing was written).",
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
) -> ReleaseOutcome:
    """Create the GitHub release of ``tag`` (staging: prerelease; main: full, made latest).

    ``make_latest``: whether GitHub marks a full release "latest" (a prerelease
    never is; promote says False for an older version).

    The Git tag is created at ``commit`` first when absent (an existing tag must
    name ``commit``); ``ensure_git_tag=False`` is for a caller that has just
    done that itself (promote). An existing release is left alone, or gets ``notes`` as
    its body with ``update_existing``. Without a GitHub API (Git-remote tag
    store) the release is skipped and the outcome says so.
    """
    if ensure_git_tag:
        await ensure_tag(ctx, tag, commit, dry_run=dry_run)
    if ctx.github is None:
        ctx.progress.step(f"Release {tag}: {SKIPPED_NO_API}.")
        return ReleaseOutcome(tag, "skipped", prerelease, reason=SKIPPED_NO_API)
    existing = await ctx.github.get_release(tag)
    if existing is not None:
        if update_existing and existing.body != notes:
            if dry_run:
                return ReleaseOutcome(
                    tag, "planned", prerelease, existing.html_url, reason="would get the new body"
                )
            updated = await ctx.github.update_release(existing.id, body=notes)
            ctx.progress.step(f"Updated the body of release {tag}.")
            return ReleaseOutcome(tag, "updated", prerelease, updated.html_url)
        return ReleaseOutcome(tag, "exists", existing.prerelease, existing.html_url)
    if dry_run:
        return ReleaseOutcome(tag, "planned", prerelease, reason="would be created")
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
