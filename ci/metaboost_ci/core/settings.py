"""Settings and credentials, and the one builder from settings to a ``ReleaseContext``.

The command line reads credentials from the environment, as the old workflows
did; the Dagger module reads them from Dagger secrets. Both end in the same
``Settings`` and call the same ``open_release_context``, so the flows cannot
tell which entry point started them. A ``Credential`` remembers where its value
came from (an environment variable's name, a secret's name) so output can say
which one was used without ever showing the value.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .apps import DEFAULT_APPS
from .errors import ConfigError, InputError
from .flows.context import ReleaseContext
from .github import DEFAULT_API_URL, GitHubClient, GitHubTagStore, require_repository
from .gitstore import GitRemoteTagStore, register_remote_credentials, safe_remote
from .net import RetryPolicy
from .progress import Progress, SilentProgress
from .redact import register_environment_secrets, register_secret
from .registry import RegistryClient, RegistryCredentials, parse_registry_url
from .registry.profile import PROFILE
from .tags import TagStore
from .urls import require_usable_url

DEFAULT_GITHUB_API = DEFAULT_API_URL
GITHUB_TOKEN_VARS = ("GITHUB_TOKEN",)


@dataclass(frozen=True)
class Credential:
    """A secret value and the name of where it came from (shown; the value never is).

    ``secret=False`` for a username: it is not a secret, and masking it would
    mangle ordinary output. With ``GITHUB_ACTOR=acme`` pushing to
    ``acme/metaboost``, every image name (the summary, the kustomize pins)
    would read ``***/metaboost``. A Basic header still masks the pair.
    """

    value: str = field(repr=False)
    source: str
    secret: bool = True

    def __post_init__(self) -> None:
        if self.secret:
            register_secret(self.value)


@dataclass(frozen=True)
class Settings:
    """Everything needed to talk to the registry and the tag store."""

    repository: str
    registry_url: str = PROFILE.url
    apps: tuple[str, ...] = DEFAULT_APPS
    git_remote: str | None = None
    github_api_url: str = DEFAULT_GITHUB_API
    registry_token: Credential | None = None
    registry_username: Credential | None = None
    github_token: Credential | None = None
    # With a Git remote: the clone tags are pushed from (default: the current directory).
    local_repo: Path | None = None

    def __post_init__(self) -> None:
        require_repository(self.repository)
        object.__setattr__(self, "registry_url", check_registry_url(self.registry_url))
        require_usable_url(
            self.github_api_url.strip(),
            what="GitHub API URL",
            fix="Give --github-api-url as https://api.github.com, or https://HOST/api/v3 for "
            "GitHub Enterprise.",
        )
        if self.git_remote is not None:
            # Now, before the first progress line names the remote.
            register_remote_credentials(self.git_remote)
        if self.git_remote is not None and "://" in self.git_remote:
            # file:///path has no host; every other scheme names one.
            require_usable_url(
                self.git_remote,
                what="Git remote",
                fix="Give --git-remote as a URL (https://HOST[:PORT]/OWNER/REPO.git), "
                "HOST:OWNER/REPO.git, or a path.",
                needs_host=not self.git_remote.startswith("file:"),
            )

    @property
    def registry_host(self) -> str:
        """``host[:port]`` as it appears in image references."""
        parts = urlsplit(self.registry_url)
        return parts.netloc

    @property
    def uses_github_api(self) -> bool:
        """False with ``--git-remote``: tags go to that remote, and no releases are made."""
        return self.git_remote is None

    def credential_sources(self) -> dict[str, str | None]:
        """Which variable or secret each credential came from (for output; no values)."""
        return {
            "registry_token": self.registry_token.source if self.registry_token else None,
            "registry_username": (
                self.registry_username.source if self.registry_username else None
            ),
            "github_token": self.github_token.source if self.github_token else None,
        }

    def describe_credentials(self) -> str:
        """One line saying which credentials are used and from where."""
        registry = (
            f"registry token from {self.registry_token.source}"
            if self.registry_token
            else "no registry token (anonymous registry access)"
        )
        if self.registry_token and self.registry_username:
            registry += f", username from {self.registry_username.source}"
        if not self.uses_github_api:
            api = f"tags via Git remote {self.git_remote_display}, no GitHub API"
        elif self.github_token:
            api = f"GitHub API token from {self.github_token.source}"
        else:
            api = "no GitHub API token"
        return f"Credentials: {registry}; {api}."

    @property
    def git_remote_display(self) -> str:
        return safe_remote(self.git_remote or "")

    def require_write_credentials(self) -> None:
        """A registry that takes no anonymous write: say so before anything is sent."""
        if (
            self.registry_token is None
            and self.registry_host == PROFILE.host
            and not PROFILE.anonymous_writes
        ):
            raise ConfigError(PROFILE.missing_token(), fix=PROFILE.anonymous_write_fix)

    def require_github_token(self) -> Credential:
        """The API token, or an input error saying which variable to set."""
        if self.github_token is None:
            raise ConfigError(
                "No GitHub API token: GITHUB_TOKEN is not set.",
                fix="Export GITHUB_TOKEN (contents: write), or pass --git-remote URL to use "
                "a Git remote as the tag store.",
            )
        return self.github_token


def check_registry_url(url: str) -> str:
    """The registry URL normalised (``HOST`` -> ``https://HOST``), or an input error.

    The registry client's parser is the one authority on what a registry URL is;
    the host and port are checked first, since httpx takes some bad ones as
    names to retry, or fails on them with a traceback.
    """
    text = url.strip()
    require_usable_url(
        text if "://" in text else f"https://{text}",
        what="Registry URL",
        fix="Give --registry as host[:port] or https://host[:port] (http://host:port for a "
        "local registry), with no space and a port from 1 to 65535.",
    )
    return str(parse_registry_url(url)).rstrip("/")


def credential_from_env(
    names: tuple[str, ...], env: Mapping[str, str], *, secret: bool = True
) -> Credential | None:
    """The first of ``names`` set to a non-empty value, remembering which one it was."""
    for name in names:
        value = env.get(name, "")
        if value:
            return Credential(value, name, secret=secret)
    return None


def settings_from_env(
    *,
    repository: str | None,
    registry_url: str = PROFILE.url,
    apps: tuple[str, ...] = DEFAULT_APPS,
    git_remote: str | None = None,
    github_api_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from options plus credentials from the environment (the seed's variables)."""
    env = os.environ if env is None else env
    register_environment_secrets(env)
    if not repository:
        raise InputError(
            "No repository given and GITHUB_REPOSITORY is not set.",
            fix="Pass --repository OWNER/REPO.",
        )
    registry_token = credential_from_env(PROFILE.token_variables, env)
    username = credential_from_env(PROFILE.username_variables, env, secret=False)
    return Settings(
        repository=repository,
        registry_url=registry_url,
        apps=apps,
        git_remote=git_remote,
        github_api_url=github_api_url or env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API,
        registry_token=registry_token,
        registry_username=username,
        github_token=credential_from_env(GITHUB_TOKEN_VARS, env),
    )


def registry_credentials(settings: Settings) -> RegistryCredentials | None:
    if settings.registry_token is None:
        return None
    username = (
        settings.registry_username.value
        if settings.registry_username
        else PROFILE.fallback_username
    )
    return RegistryCredentials(username, settings.registry_token.value)


@asynccontextmanager
async def open_release_context(
    settings: Settings,
    *,
    progress: Progress | None = None,
    registry_transport: httpx.AsyncBaseTransport | None = None,
    github_transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
    need_github_token: bool = True,
    **registry_options: Any,
) -> AsyncGenerator[ReleaseContext]:
    """A ``ReleaseContext`` for ``settings``; its clients are closed on exit.

    With the GitHub API as the tag store the API token is required (an input
    error, before any request, when absent) unless ``need_github_token`` is
    False (read-only commands on a public repository).
    """
    async with AsyncExitStack() as stack:
        registry = RegistryClient(
            settings.registry_url,
            credentials=registry_credentials(settings),
            policy=policy,
            transport=registry_transport,
            progress=progress,
            **registry_options,
        )
        stack.push_async_callback(registry.aclose)
        github: GitHubClient | None = None
        tags: TagStore
        if settings.git_remote is not None:
            tags = GitRemoteTagStore(
                settings.git_remote, local_repo=settings.local_repo, progress=progress
            )
        else:
            token = settings.require_github_token() if need_github_token else settings.github_token
            github = GitHubClient(
                settings.repository,
                token=token.value if token else None,
                api_url=settings.github_api_url,
                policy=policy,
                transport=github_transport,
                progress=progress,
            )
            stack.push_async_callback(github.aclose)
            tags = GitHubTagStore(github)
        yield ReleaseContext(
            registry=registry,
            registry_host=settings.registry_host,
            repository=settings.repository,
            apps=settings.apps,
            tags=tags,
            github=github,
            progress=progress or SilentProgress(),
        )
