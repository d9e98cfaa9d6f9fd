"""``GitHubTagStore``: the ``TagStore`` protocol over the GitHub REST API."""

from __future__ import annotations

from ..tags import TagCreate
from .client import GitHubClient
from .transport import DEFAULT_API_URL


class GitHubTagStore:
    """Tags of one GitHub repository, created atomically with ``POST git/refs``."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    @property
    def description(self) -> str:
        api_url = self.client.api_url
        where = "" if api_url == DEFAULT_API_URL else f" at {api_url}"
        return f"GitHub repository {self.client.repository}{where}"

    async def list_tags(self, prefix: str) -> dict[str, str]:
        return await self.client.list_tags(prefix)

    async def create_tag(self, tag: str, sha: str) -> TagCreate:
        return await self.client.create_tag_ref(tag, sha)

    async def tag_commit(self, tag: str) -> str | None:
        return await self.client.get_tag_commit(tag)

    async def commit_exists(self, sha: str) -> bool:
        return await self.client.commit_exists(sha)
