"""Everything specific to the registry the pipeline publishes to, in one place.

The rest of the code speaks the OCI distribution API to any registry; what
it assumes of the default one is here: its host, the environment variables
its credentials come from, the username sent when none is set, whether it
takes a write without a token, and the guidance a 401 or 403 from it gets.
Switching registries is a new ``RegistryProfile``, ``PROFILE`` naming it, and
the workflows (``.github/workflows/``: the permissions and secrets they pass).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegistryProfile:
    # For messages.
    name: str
    # host[:port], as in image references; the default --registry.
    host: str
    # Read in this order, the first one set wins (the variables are read for
    # any registry; only the hints below are this one's).
    token_variables: tuple[str, ...]
    username_variables: tuple[str, ...]
    # The username sent with a token when no username variable is set.
    fallback_username: str
    # False: a write without a token is refused before anything is sent.
    anonymous_writes: bool
    # What a token needs to write (for --help).
    write_scope: str
    # What a write with no token needs (the fix of that refusal).
    anonymous_write_fix: str
    # Guidance for its 401 (credentials not accepted) and 403 (not allowed).
    unauthorized_hint: str
    forbidden_hint: str

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def credential_variables(self) -> str:
        """The variables credentials come from, in order, for messages about any registry."""
        tokens = _in_order(self.token_variables, note="whatever its name, read for any registry")
        return f"{_in_order(self.username_variables)} and {tokens}"

    def missing_token(self) -> str:
        """The sentence for a write with no token set."""
        return f"No registry token: neither {' nor '.join(self.token_variables)} is set."


def _in_order(names: tuple[str, ...], *, note: str = "") -> str:
    """``A (else B; note)``: what a list of fallback variables reads as."""
    first, *rest = names
    said = [f"else {', else '.join(rest)}"] if rest else []
    said += [note] if note else []
    return f"{first} ({'; '.join(said)})" if said else first


GHCR = RegistryProfile(
    name="GitHub Container Registry",
    host="ghcr.io",
    # A dedicated registry token wins over the Actions token (the seed's order).
    token_variables=("GHCR_REGISTRY_TOKEN", "GITHUB_TOKEN"),
    username_variables=("REGISTRY_USERNAME", "GITHUB_ACTOR"),
    # GHCR ignores the username; any non-empty name works with a token.
    fallback_username="metaboost-ci",
    anonymous_writes=False,
    write_scope="write:packages",
    anonymous_write_fix="Export GHCR_REGISTRY_TOKEN (a token with write:packages) or GITHUB_TOKEN "
    "with packages: write.",
    unauthorized_hint=(
        "The registry did not accept the credentials. Check that GHCR_REGISTRY_TOKEN "
        "(or GITHUB_TOKEN) is set and not expired, that the token has read:packages "
        "(and write:packages to push), and that it is a classic personal access token "
        "or the Actions GITHUB_TOKEN: GHCR does not accept fine-grained personal access "
        "tokens or GitHub App tokens."
    ),
    forbidden_hint=(
        "The token is valid but may not do this. To push with the Actions GITHUB_TOKEN, "
        "the workflow needs `permissions: packages: write` and the package's "
        '"Manage Actions access" settings must give this repository the Write role; '
        "with GHCR_REGISTRY_TOKEN, the token needs write:packages and access to the package."
    ),
)

# The registry this pipeline publishes to.
PROFILE = GHCR
