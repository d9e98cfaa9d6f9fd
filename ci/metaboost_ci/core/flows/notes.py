"""Release notes: the changelog of a version, read so that nothing else can be published.

A release body is public. The notes are ``docs/development/CHANGELOGS/<BASE>.md``
of the released commit (``git show``-like, from the commit's tree) or of a
checkout (``--source``), and they are used only when that is a regular file
of the repository: no symbolic link anywhere on the path (a link to
``/proc/self/environ`` once published the process's tokens), no other hard
link, at most ``MAX_NOTES_BYTES``, valid UTF-8. Anything else gets the
fallback sentence, and a warning on the progress stream says why. (The
GitHub client also masks every registered secret in whatever it sends.)

The limit is GitHub's own: a release body may hold at most 125,000
characters, and a UTF-8 file of at most 125,000 bytes never has more.
"""

from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..gitrun import GitResult, run_git
from ..progress import Progress
from ..versions import changelog_path

# GitHub refuses a release body over 125,000 characters ("body is too long").
MAX_NOTES_BYTES = 125_000
# Git tree entry modes of a regular file (plain and executable).
_GIT_FILE_MODES = ("100644", "100755")
_GIT_SYMLINK_MODE = "120000"


def fallback_notes(base: str, *, refused: bool = False) -> str:
    """The body used without a usable changelog: it names the file to write."""
    path = changelog_path(base)
    if refused:
        return (
            f"No release notes: {path} at this commit is not a regular UTF-8 text file of at "
            f"most {MAX_NOTES_BYTES:,} bytes inside the repository. Replace it with one to "
            f"record the changes in {base}."
        )
    return (
        f"No release notes: {path} was not found at this commit. "
        f"Add that file to record the changes in {base}."
    )


@dataclass(frozen=True)
class ReleaseNotes:
    text: str
    path: str
    # False when ``text`` is the fallback sentence (the changelog is missing or refused).
    found: bool
    # Where it was read: a directory, or "git show <commit>".
    origin: str
    # Why an existing changelog was not used (None when it was, or is missing).
    refused: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Refused(Exception):
    """The changelog exists but may not be published; the message says why."""


def checked_notes(
    base: str, data: bytes | None, origin: str, progress: Progress | None = None
) -> ReleaseNotes:
    """Notes from the changelog's bytes (None: missing), or the fallback with a warning."""
    path = changelog_path(base)
    if data is None:
        return ReleaseNotes(fallback_notes(base), path, False, origin)
    try:
        if len(data) > MAX_NOTES_BYTES:
            raise _Refused(f"it is larger than {MAX_NOTES_BYTES:,} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refused(f"it is not valid UTF-8 (byte {exc.start})") from None
    except _Refused as refusal:
        return _refused(base, origin, str(refusal), progress)
    return ReleaseNotes(text, path, True, origin)


def _refused(base: str, origin: str, why: str, progress: Progress | None) -> ReleaseNotes:
    path = changelog_path(base)
    if progress is not None:
        progress.step(
            f"Warning: {path} ({origin}) is not used as release notes: {why}; the release "
            "gets the fallback sentence instead."
        )
    return ReleaseNotes(fallback_notes(base, refused=True), path, False, origin, refused=why)


async def read_release_notes(
    base: str,
    *,
    commit: str | None = None,
    source: Path | None = None,
    repo: Path | None = None,
    progress: Progress | None = None,
) -> ReleaseNotes:
    """The changelog of ``base`` from ``source``, else from ``commit`` in the clone ``repo``.

    The one reader of release notes (``release --source``, ``promote
    --source``, and the Dagger layer through the command line). A changelog
    that breaks the rules in the module docstring gives the fallback sentence,
    and ``progress`` gets a warning saying why.
    """
    if source is not None:
        # A few kilobytes from a local file, read at once (no subprocess here).
        return _notes_from_source(base, source, progress)
    if commit is None:
        raise InputError(
            "Release notes need a commit or a source directory.",
            fix="Pass --commit SHA (read with git show) or --source DIR.",
        )
    return await _notes_from_git(base, commit, repo or Path.cwd(), progress)


def _notes_from_source(base: str, source: Path, progress: Progress | None) -> ReleaseNotes:
    if not source.is_dir():
        raise ConfigError(
            f"Source directory {source} does not exist.",
            fix="Pass --source with the monorepo checkout of the released commit.",
        )
    origin = str(source)
    try:
        data = _read_inside(source.resolve(), changelog_path(base))
    except _Refused as refusal:
        return _refused(base, origin, str(refusal), progress)
    return checked_notes(base, data, origin, progress)


def _read_inside(root: Path, relative: str) -> bytes | None:
    """The bytes of ``root/relative``, a regular file reached through no link; None if absent.

    Each component is opened relative to its parent's descriptor without
    following links (``O_NOFOLLOW``), so a link swapped in while we read is
    refused too, not followed.
    """
    *directories, name = relative.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in directories:
            info = _lstat(part, fd)
            if info is None:
                return None
            if stat.S_ISLNK(info.st_mode):
                raise _Refused(f"its directory {part} is a symbolic link")
            if not stat.S_ISDIR(info.st_mode):
                return None
            parent, fd = fd, os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(parent)
        info = _lstat(name, fd)
        if info is None:
            return None
        _require_plain_file(info)
        file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    except OSError as exc:
        raise _Refused(f"it cannot be read safely ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb") as stream:
        _require_plain_file(os.fstat(stream.fileno()))
        return stream.read(MAX_NOTES_BYTES + 1)


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def _require_plain_file(info: os.stat_result) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise _Refused("it is a symbolic link")
    if not stat.S_ISREG(info.st_mode):
        raise _Refused("it is not a regular file")
    if info.st_nlink > 1:
        # Another name for the same file, which may live outside the repository.
        raise _Refused("it has other hard links")
    if info.st_size > MAX_NOTES_BYTES:
        raise _Refused(f"it is larger than {MAX_NOTES_BYTES:,} bytes")


async def _git(repo: Path, *args: str) -> GitResult:
    return await run_git("-C", str(repo), *args)


async def _notes_from_git(
    base: str, commit: str, repo: Path, progress: Progress | None
) -> ReleaseNotes:
    path = changelog_path(base)
    origin = f"git show {commit[:12]}"
    # A commit missing from this clone must not read as "no changelog".
    if (await _git(repo, "cat-file", "-e", f"{commit}^{{commit}}")).returncode != 0:
        raise ConfigError(
            f"Commit {commit} is not in the Git repository at {repo}, so its changelog "
            "cannot be read.",
            fix="Run in a clone that has the commit (git fetch), or pass --source DIR.",
        )
    try:
        data = await _blob_at(repo, commit, path)
    except _Refused as refusal:
        return _refused(base, origin, str(refusal), progress)
    return checked_notes(base, data, origin, progress)


async def _blob_at(repo: Path, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` in ``commit``'s tree when it is a regular file; None if absent.

    Every directory on the way is listed too: a path through a symbolic link
    is absent from the tree, and would otherwise read as "no changelog".
    """
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    listed = await _git(repo, "ls-tree", "-l", "-z", commit, "--", *prefixes)
    if listed.returncode != 0:
        return None
    entries: dict[str, tuple[str, str, str]] = {}
    for record in listed.stdout.split("\0"):
        meta, _, name = record.partition("\t")
        fields = meta.split()
        if len(fields) == 4:
            mode, _kind, oid, size = fields
            entries[name] = (mode, oid, size)
    if path not in entries:
        # ls-tree shows the deepest entry it reaches on the way: a link there
        # is where the path left the tree.
        links = [name for name, (mode, _, _) in entries.items() if mode == _GIT_SYMLINK_MODE]
        if links:
            raise _Refused(f"its directory {links[0]} is a symbolic link")
        return None
    mode, oid, size = entries[path]
    if mode == _GIT_SYMLINK_MODE:
        raise _Refused("it is a symbolic link")
    if mode not in _GIT_FILE_MODES:
        raise _Refused("it is not a regular file")
    if int(size) > MAX_NOTES_BYTES:
        raise _Refused(f"it is larger than {MAX_NOTES_BYTES:,} bytes")
    blob = await _git(repo, "cat-file", "blob", oid)
    if blob.returncode != 0:
        return None
    return blob.output
