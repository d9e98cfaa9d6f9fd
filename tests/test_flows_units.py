"""The pure parts of the flows: summaries, settings and credentials, notes, labels."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from metaboost_ci.core.errors import ConfigError, InputError
from metaboost_ci.core.flows import (
    AppTags,
    Discovery,
    ImageRow,
    PublishSummary,
    ReleaseOutcome,
    Reservation,
    Verification,
    changelog_path,
    fallback_notes,
    read_release_notes,
)
from metaboost_ci.core.flows.plan import revision_matches
from metaboost_ci.core.flows.release import base_of_tag
from metaboost_ci.core.redact import redact
from metaboost_ci.core.settings import Settings, settings_from_env
from tests.support.gitrepo import GitRepos

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def summary() -> PublishSummary:
    rows = (
        ImageRow("api", "ghcr.io/acme/metaboost/api", ("1.2.0-staging.3", "staging"), DIGEST_A),
        ImageRow(
            "management-web",
            "ghcr.io/acme/metaboost/management-web",
            ("1.2.0-staging.3", "staging"),
            DIGEST_B,
        ),
    )
    return PublishSummary("1.2.0-staging.3", rows, "staging", ("A note.",))


def crossed(result: Any, **added: object) -> dict[str, Any]:
    """``result.to_dict()`` as the Dagger layer reads it: through JSON, with the keys the
    command line adds (``credentials``, a release's ``notes``)."""
    return json.loads(json.dumps({**result.to_dict(), **added}))


CONTENDED = Reservation(
    version="1.2.0-staging.5",
    base="1.2.0",
    n=5,
    commit="c" * 40,
    action="created",
    hint=3,
    registry_hint="read",
    store="GitHub acme/metaboost",
    attempts=3,
    taken=(3, 4),
)
RESULTS_THAT_CROSS = [
    summary(),
    CONTENDED,
    dataclasses.replace(
        CONTENDED,
        version="1.2.0-staging.9",
        n=9,
        action="planned",
        hint=9,
        registry_hint="not read",
        attempts=0,
        taken=(),
        override=True,
        dry_run=True,
    ),
    Discovery(
        base="1.2.0",
        apps={
            "api": AppTags(app="api", exists=True, tags=(), staging=(0, 2)),
            "web": AppTags(app="web", exists=False, tags=(), staging=()),
        },
    ),
    Verification(version="1.2.0", float_tag="latest", digests={"api": DIGEST_A}),
    Verification(
        version="1.2.0-staging.3",
        float_tag=None,
        digests={"api": DIGEST_A, "web": DIGEST_B},
        revisions={"api": ["c" * 40], "web": ["c" * 40, ""]},
    ),
    ReleaseOutcome(tag="1.2.0", action="created", prerelease=False, url="https://x/r/1"),
    ReleaseOutcome(tag="1.2.0-staging.3", action="skipped", prerelease=True, reason="no API"),
]


@pytest.mark.parametrize("result", RESULTS_THAT_CROSS, ids=lambda r: type(r).__name__)
def test_a_result_survives_the_command_lines_json(result: Any) -> None:
    data = crossed(result, credentials={"registry_token": "GITHUB_TOKEN"})
    assert type(result).from_dict(data) == result


def test_a_release_is_read_back_beside_the_notes_the_command_line_adds() -> None:
    outcome = ReleaseOutcome(tag="1.2.0", action="updated", prerelease=False, url="https://x/1")
    data = crossed(outcome, notes={"source": "CHANGELOG.md", "text": "..."})
    assert ReleaseOutcome.from_dict(data).sentence() == "GitHub release 1.2.0 updated. https://x/1"


def test_markdown_summary_has_image_tags_and_digest_per_app() -> None:
    text = summary().markdown()
    assert "| app | image | tags | digest |" in text
    assert (
        f"| api | `ghcr.io/acme/metaboost/api` | `1.2.0-staging.3`, `staging` | `{DIGEST_A}` |"
        in text
    )
    assert f"ghcr.io/acme/metaboost/management-web:1.2.0-staging.3@{DIGEST_B}" in text
    assert text.rstrip().endswith("A note.")


def test_github_output_lines() -> None:
    assert summary().github_output() == (
        "version=1.2.0-staging.3\n"
        "float_tag=staging\n"
        "staging_n=3\n"
        f"digest_api={DIGEST_A}\n"
        f"digest_management_web={DIGEST_B}\n"
    )
    main = PublishSummary("1.2.0", (), "latest")
    assert "staging_n" not in main.github_output()


def test_kustomize_pins() -> None:
    assert summary().kustomize_images() == (
        "images:\n"
        "  - name: ghcr.io/acme/metaboost/api\n"
        '    newTag: "1.2.0-staging.3"\n'
        f'    digest: "{DIGEST_A}"\n'
        "  - name: ghcr.io/acme/metaboost/management-web\n"
        '    newTag: "1.2.0-staging.3"\n'
        f'    digest: "{DIGEST_B}"\n'
    )


# -- settings and credentials ------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "token_from", "user_from"),
    [
        (
            {
                "GHCR_REGISTRY_TOKEN": "ghp_reg1",
                "GITHUB_TOKEN": "ghs_api1",
                "REGISTRY_USERNAME": "u",
                "GITHUB_ACTOR": "a",
            },
            "GHCR_REGISTRY_TOKEN",
            "REGISTRY_USERNAME",
        ),
        ({"GITHUB_TOKEN": "ghs_api2", "GITHUB_ACTOR": "octocat"}, "GITHUB_TOKEN", "GITHUB_ACTOR"),
        ({"GHCR_REGISTRY_TOKEN": "", "GITHUB_TOKEN": "ghs_api3"}, "GITHUB_TOKEN", None),
        ({}, None, None),
    ],
)
def test_credentials_come_from_the_seeds_variables(
    env: dict[str, str], token_from: str | None, user_from: str | None
) -> None:
    settings = settings_from_env(repository="acme/metaboost", env=env)
    sources = settings.credential_sources()
    assert sources["registry_token"] == token_from
    assert sources["registry_username"] == user_from
    assert sources["github_token"] == ("GITHUB_TOKEN" if env.get("GITHUB_TOKEN") else None)
    line = settings.describe_credentials()
    if token_from:
        assert token_from in line
    for name, value in env.items():
        if len(value) >= 4:
            assert value not in line
            assert value not in repr(settings)
        if len(value) >= 4 and name.endswith("TOKEN"):
            # Registered when read: masked wherever it would appear.
            assert redact(f"x {value} y") == "x *** y"


def test_a_username_is_named_but_does_not_mask_image_names() -> None:
    # In Actions GITHUB_ACTOR is often the repository's owner: masking it would
    # turn every image name (summary, kustomize pins) into ***/repo/app.
    owner = "actor-owner-7f3a"
    settings = settings_from_env(
        repository=f"{owner}/metaboost",
        env={"GITHUB_TOKEN": "ghs_unit_token_7f3a", "GITHUB_ACTOR": owner},
    )
    assert settings.credential_sources()["registry_username"] == "GITHUB_ACTOR"
    assert owner not in settings.describe_credentials()
    assert redact(f"ghcr.io/{owner}/metaboost/api") == f"ghcr.io/{owner}/metaboost/api"
    assert redact("x ghs_unit_token_7f3a y") == "x *** y"


def test_settings_refuse_bad_values_before_any_request() -> None:
    with pytest.raises(InputError, match="OWNER/REPO"):
        settings_from_env(repository=None, env={})
    with pytest.raises(InputError, match="OWNER/REPO"):
        Settings(repository="acme")
    with pytest.raises(InputError, match="contains credentials"):
        Settings(repository="acme/metaboost", registry_url="https://u:p@ghcr.io")
    with pytest.raises(InputError, match="has a path"):
        Settings(repository="acme/metaboost", registry_url="https://ghcr.io/acme")
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        Settings(repository="acme/metaboost").require_github_token()


def test_registry_host_and_git_remote_without_credentials() -> None:
    settings = Settings(
        repository="acme/metaboost",
        registry_url="http://127.0.0.1:5000",
        git_remote="https://x-access-token:ghs_secretvalue@github.com/acme/metaboost.git",
    )
    assert settings.registry_host == "127.0.0.1:5000"
    assert "ghs_secretvalue" not in settings.describe_credentials()
    assert "no GitHub API" in settings.describe_credentials()


def test_registry_without_scheme_defaults_to_https() -> None:
    settings = Settings(repository="acme/metaboost", registry_url="ghcr.io")
    assert settings.registry_url == "https://ghcr.io"
    assert settings.registry_host == "ghcr.io"
    local = Settings(repository="acme/metaboost", registry_url="http://127.0.0.1:5000/")
    assert local.registry_url == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("registry_url", "https://ghcr.io"),
        ("registry_url", "http://[::1]:5000"),
        ("registry_url", "127.0.0.1:65535"),
        ("registry_url", "registry_1.example"),
        ("registry_url", "bücher.example"),
        ("github_api_url", "https://ghe.example/api/v3"),
        ("git_remote", "ssh://git@github.com:22/acme/metaboost.git"),
        ("git_remote", "file:///srv/git/metaboost.git"),
        ("git_remote", "git@github.com:acme/metaboost.git"),
    ],
)
def test_usable_urls_pass_the_host_and_port_check(field: str, value: str) -> None:
    Settings(repository="acme/metaboost", **{field: value})


# -- release notes ------------------------------------------------------------------


def test_changelog_path_and_fallback_sentence() -> None:
    assert changelog_path("1.2.0") == "docs/development/CHANGELOGS/1.2.0.md"
    assert "docs/development/CHANGELOGS/1.2.0.md was not found" in fallback_notes("1.2.0")
    assert base_of_tag("1.2.0-staging.4") == "1.2.0"
    assert base_of_tag("1.2.0") == "1.2.0"
    with pytest.raises(InputError):
        base_of_tag("latest")


async def test_notes_are_read_at_the_commit_not_from_the_work_tree(git_repos: GitRepos) -> None:
    path = git_repos.work / changelog_path("2.0.0")
    path.parent.mkdir(parents=True)
    path.write_text("at the commit\n")
    git_repos.git("add", str(path))
    with_notes = git_repos.commit("notes")
    path.write_text("uncommitted edit\n")
    notes = await read_release_notes("2.0.0", commit=with_notes, repo=git_repos.work)
    assert (notes.text, notes.found) == ("at the commit\n", True)
    older = git_repos.git("rev-parse", "HEAD~1")
    missing = await read_release_notes("2.0.0", commit=older, repo=git_repos.work)
    assert not missing.found
    assert changelog_path("2.0.0") in missing.text


async def test_notes_for_a_commit_missing_from_the_clone_are_an_error(
    git_repos: GitRepos, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="not in the Git repository"):
        await read_release_notes("2.0.0", commit="f" * 40, repo=git_repos.work)
    await anyio.run_process(["git", "init", "-q", str(tmp_path / "empty")])
    with pytest.raises(ConfigError):
        await read_release_notes("2.0.0", commit="f" * 40, repo=tmp_path / "empty")


async def test_notes_from_a_source_directory(tmp_path: Path) -> None:
    assert not (await read_release_notes("2.0.0", source=tmp_path)).found
    with pytest.raises(ConfigError, match="does not exist"):
        await read_release_notes("2.0.0", source=tmp_path / "absent")


def test_revision_labels_match_full_or_abbreviated_shas() -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert revision_matches(commit, commit)
    assert revision_matches(commit[:7].upper(), commit)
    assert not revision_matches(commit[:6], commit)
    assert not revision_matches("f" * 40, commit)


def test_release_outcomes_read_as_one_sentence_each() -> None:
    from metaboost_ci.core.flows.release import SKIPPED_NO_API, ReleaseOutcome

    url = "https://github.com/acme/metaboost/releases/tag/1.2.0"
    assert ReleaseOutcome("1.2.0", "created", False, url).sentence() == (
        f"GitHub release 1.2.0 created. {url}"
    )
    assert "already existed; left as it is" in ReleaseOutcome("1.2.0", "exists", False).sentence()
    skipped = ReleaseOutcome("1.2.0", "skipped", False, reason=SKIPPED_NO_API).sentence()
    assert skipped == f"GitHub release 1.2.0 {SKIPPED_NO_API}."
    assert ReleaseOutcome("1.2.0", "planned", True).sentence().startswith("Dry run: ")
