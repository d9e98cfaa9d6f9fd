"""The tag store interface: Git tags over the GitHub API or any Git remote.

Reservation of ``X.Y.Z-staging.N`` and the promotion's provenance check only
need three operations, so they work the same against GitHub
(``github.store.GitHubTagStore``) and any Git remote, a local bare repository
included (``gitstore.GitRemoteTagStore``).
"""

from __future__ import annotations

import enum
from typing import Protocol


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
