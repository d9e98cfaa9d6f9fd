"""From the module's arguments (Dagger secrets) to the core's ``Settings``.

The command line reads credentials from environment variables; the module
from ``dagger.Secret`` arguments. Both end in the same ``core.settings``
``Settings`` and ``open_release_context``. Each secret's plaintext is
registered for redaction (``Credential`` does it) the moment it is read; the
registry username is not a secret and is not masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagger

from ..core.settings import DEFAULT_GITHUB_API, FALLBACK_USERNAME, Credential, Settings
from .publish import RegistryAuth


@dataclass(frozen=True)
class SecretArgs:
    """The credential arguments of a module function."""

    github_token: dagger.Secret | None = None
    registry_token: dagger.Secret | None = None
    registry_username: str = ""

    @property
    def push_secret(self) -> dagger.Secret | None:
        """What pushes authenticate with: the registry token, else the GitHub token."""
        return self.registry_token or self.github_token

    def push_auth(self) -> RegistryAuth | None:
        secret = self.push_secret
        if secret is None:
            return None
        return RegistryAuth(self.registry_username or FALLBACK_USERNAME, secret)


async def settings_for(
    *,
    registry: str,
    repository: str,
    apps: tuple[str, ...],
    secrets: SecretArgs,
    github_api_url: str = DEFAULT_GITHUB_API,
) -> Settings:
    """``Settings`` with the secrets' plaintexts (registered for redaction as read)."""
    github = (
        Credential(await secrets.github_token.plaintext(), "--github-token")
        if secrets.github_token is not None
        else None
    )
    if secrets.registry_token is not None:
        registry_token = Credential(await secrets.registry_token.plaintext(), "--registry-token")
    elif github is not None:
        # The seed's fallback: the Actions token also works for GHCR.
        registry_token = Credential(github.value, "--github-token")
    else:
        registry_token = None
    # A username is named, not masked: it is often the repository's owner, and
    # masking it would turn every image name into ***/repo/app.
    username = (
        Credential(secrets.registry_username, "--registry-username", secret=False)
        if secrets.registry_username
        else None
    )
    return Settings(
        repository=repository,
        registry_url=registry,  # Settings normalises it (ghcr.io -> https://ghcr.io)
        apps=apps,
        github_api_url=github_api_url,
        github_token=github,
        registry_token=registry_token,
        registry_username=username,
    )
