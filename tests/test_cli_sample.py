"""``metaboost-ci push-sample-images``: stand-in images under the release names,
only on a local registry, never moving a tag that names other bytes."""

from __future__ import annotations

from tests.support.images import list_tags, push_image
from tests.support.local_cli import clean_env
from tests.support.registry_process import Registry
from tests.support.release import run_cli

COMMIT = "0123456789abcdef0123456789abcdef01234567"
APPS = ("api", "web")


def env() -> dict[str, str]:
    return clean_env()  # no credentials: an anonymous local registry


def sample(registry_url: str, version: str = "0.1.0-staging.0") -> list[str]:
    return [
        *("--registry", registry_url, "--repository", "acme/metaboost", "--apps", ",".join(APPS)),
        *("push-sample-images", "--version", version, "--commit", COMMIT, "--json"),
    ]


def test_pushes_one_labelled_image_per_app_and_converges(registry: Registry) -> None:
    first = run_cli(sample(registry.url), env=env())
    assert first.code == 0, first.all_output
    digests = first.json()["digests"]
    assert set(digests) == set(APPS)
    assert digests["api"] != digests["web"]
    for app in APPS:
        assert list_tags(registry, f"acme/metaboost/{app}") == ["0.1.0-staging.0"]
    verified = run_cli(
        [*sample(registry.url)[:6], "verify", "--version", "0.1.0-staging.0", "--revisions"],
        env=env(),
    )
    assert verified.code == 0, verified.all_output
    assert verified.out.count(COMMIT) == len(APPS)
    # The same inputs make the same bytes: a re-run writes nothing new.
    again = run_cli(sample(registry.url), env=env())
    assert again.code == 0, again.all_output
    assert again.json()["digests"] == digests
    assert "pushed" not in again.err


def test_a_tag_naming_other_bytes_is_never_moved(registry: Registry) -> None:
    other = push_image(registry, "acme/metaboost/web", "0.1.0-staging.0")
    result = run_cli(sample(registry.url), env=env())
    assert result.code == 1
    assert "an immutable tag never moves" in result.err
    assert f"/acme/metaboost/web:0.1.0-staging.0 names {other.digest}" in result.err
    assert list_tags(registry, "acme/metaboost/api") == []  # checked before any write


def test_only_a_local_http_registry_gets_sample_images() -> None:
    result = run_cli(sample("https://ghcr.io"), env=env())
    assert result.code == 2
    assert "Sample images go to a local registry only, not to ghcr.io" in result.err
