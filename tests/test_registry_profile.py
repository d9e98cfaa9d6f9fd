"""The registry profile: what is specific to the default registry, in one file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from metaboost_ci.core.errors import ConfigError
from metaboost_ci.core.registry import profile
from metaboost_ci.core.registry.profile import GHCR, PROFILE
from metaboost_ci.core.settings import Credential, Settings, registry_credentials

CI = Path(__file__).resolve().parents[1] / "ci"


def test_only_the_profile_names_the_default_registry() -> None:
    """Switching registries is the profile plus the workflows: no other source file
    under ci/ names it (its host, or a variable named after it)."""
    naming = sorted(
        str(path.relative_to(CI))
        for path in CI.rglob("*.py")
        if "ghcr" in path.read_text(encoding="utf-8").lower()
    )
    assert naming == [str(Path(profile.__file__).relative_to(CI))]


def test_the_profile_is_ghcr_and_its_url_is_the_default_registry() -> None:
    assert PROFILE is GHCR
    assert Settings(repository="acme/metaboost").registry_url == f"https://{GHCR.host}"


def test_messages_about_other_registries_name_the_variables_in_the_order_read() -> None:
    assert GHCR.credential_variables() == (
        "REGISTRY_USERNAME (else GITHUB_ACTOR) and GHCR_REGISTRY_TOKEN (else GITHUB_TOKEN; "
        "whatever its name, read for any registry)"
    )
    single = dataclasses.replace(GHCR, token_variables=("T",), username_variables=("U",))
    assert single.credential_variables() == "U and T (whatever its name, read for any registry)"
    assert GHCR.missing_token() == (
        "No registry token: neither GHCR_REGISTRY_TOKEN nor GITHUB_TOKEN is set."
    )


def test_a_write_without_a_token_is_refused_only_on_the_profiles_registry() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings(repository="acme/metaboost").require_write_credentials()
    assert refused.value.message == GHCR.missing_token()
    assert refused.value.fix == GHCR.anonymous_write_fix
    # A local registry may take anonymous pushes: its own answer decides.
    Settings(
        repository="acme/metaboost", registry_url="http://127.0.0.1:5000"
    ).require_write_credentials()
    token = Credential("t0ken-for-the-profile-test", "GHCR_REGISTRY_TOKEN")
    Settings(repository="acme/metaboost", registry_token=token).require_write_credentials()


def test_a_token_without_a_username_goes_with_the_profiles_fallback_name() -> None:
    token = Credential("t0ken-for-the-fallback-test", "GITHUB_TOKEN")
    credentials = registry_credentials(Settings(repository="acme/metaboost", registry_token=token))
    assert credentials is not None
    assert credentials.username == GHCR.fallback_username
