"""GitHub: the REST client (tag refs, commits, releases) and the tag store over it."""

from .client import GitHubClient
from .models import Release
from .ratelimit import GitHubRateLimit
from .store import GitHubTagStore
from .transport import DEFAULT_API_URL, require_repository

__all__ = [
    "DEFAULT_API_URL",
    "GitHubClient",
    "GitHubRateLimit",
    "GitHubTagStore",
    "Release",
    "require_repository",
]
