"""The tag store interface: Git tags over the GitHub API or any Git remote.

Reservation of ``X.Y.Z-staging.N`` and the promotion's provenance check only
need three operations, so they work the same against GitHub
(``github.store.GitHubTagStore``) and any Git remote, a local bare repository
included (``gitstore.GitRemoteTagStore``).
"""

from __future__ import annotations

import enum
import re
from typing import Protocol

from .errors import InputError


class TagCreate(enum.Enum):
    """What an atomic tag creation did."""

    CREATED = "created"
    EXISTS = "exists"  # the tag was already there (maybe at another commit)


class TagStore(Protocol):
    """Atomic Git tag operations on one repository."""

    @property
    def description(self) -> str:
        """Where the tags live, for messages (never contains a credential)."""
        ...

    async def list_tags(self, prefix: str) -> dict[str, str]:
        """Tags starting with ``prefix``, mapped to their commit (annotated tags peeled)."""
        ...

    async def create_tag(self, tag: str, sha: str) -> TagCreate:
        """Create ``refs/tags/<tag>`` at commit ``sha`` atomically, never moving an existing tag."""
        ...

    async def tag_commit(self, tag: str) -> str | None:
        """The commit ``tag`` points at (annotated tags followed), or None when absent."""
        ...


# Git's rules for a ref name (git check-ref-format), applied to the tag part:
# no control characters, space, ~ ^ : ? * [ \, no "..", no "@{", no "//",
# no component starting with "." or ending with ".lock", no trailing "/" or ".".
_BAD_TAG_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def require_tag_name(tag: str) -> str:
    """Return ``tag`` when Git accepts ``refs/tags/<tag>``, else raise naming the problem."""
    components = tag.split("/")
    bad = (
        not tag
        or tag == "@"
        or tag.endswith((".", "/"))
        or tag.startswith("/")
        or _BAD_TAG_CHARS.search(tag) is not None
        or any(c.startswith(".") or c.endswith(".lock") for c in components)
    )
    if bad:
        raise InputError(
            f"{tag!r} is not a valid Git tag name.",
            fix="Use letters, digits, '.', '-', '_' and '/', e.g. 1.2.0-staging.3.",
        )
    return tag


def require_commit_sha(sha: str) -> str:
    """Return the full, lower-case commit SHA, else raise: short SHAs are ambiguous."""
    normalized = sha.strip().lower()
    if not _COMMIT_SHA.fullmatch(normalized):
        raise InputError(
            f"{sha!r} is not a full commit SHA (40 hexadecimal characters, or 64 for SHA-256).",
            fix="Pass the full SHA, e.g. the output of `git rev-parse HEAD`.",
        )
    return normalized
