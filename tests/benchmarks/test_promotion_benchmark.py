"""Benchmark: promotion of six apps, metaboost-ci against the old method.

Reports figures, asserts no timing. Run: ``.venv/bin/pytest -m benchmark -s tests/benchmarks``.

Six apps (10 layers each; ``web`` a two-platform index with attestations) are
pushed twice, under ``acme/old`` and ``acme/metaboost``, on a token-auth
docker-registry behind a proxy adding 25 ms to every request (GHCR is not
next door). The old method (the seed's publish-main) lists the six apps' tags,
then runs 12 sequential ``skopeo copy --all`` (standing in for ``crane copy``)
to ``BASE`` and ``latest``, then creates the Git tag and the release. The new
one is ``promote``. The GitHub emulator is behind the same 25 ms. Registry
requests are counted at the proxy; token requests at the token server.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from metaboost_ci.core.flows import promote
from tests.support.gitrepo import run_git
from tests.support.images import REVISION_LABEL, fetch_manifest, push_image, push_index
from tests.support.proxies import Proxy
from tests.support.registry_process import Registry, require_tool
from tests.support.release import APPS, REPOSITORY, WorldFactory

BASE = "7.0.0"


class TimedProgress:
    """Progress lines with the moment they were said (to time the phases)."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def step(self, message: str) -> None:
        self.lines.append((time.perf_counter(), message))

    def at(self, prefix: str) -> float:
        return next(t for t, line in self.lines if line.startswith(prefix))


SOURCE = f"{BASE}-staging.0"
LATENCY = 0.025


def push_apps(registry: Registry, owner: str, commit: str) -> dict[str, str]:
    digests: dict[str, str] = {}
    for number, app in enumerate(APPS):
        name = f"{owner}/{app}"
        labels = {REVISION_LABEL: commit}
        if app == "web":
            pushed = push_index(registry, name, SOURCE, labels=labels, layers=10, seed=number)
        else:
            pushed = push_image(registry, name, SOURCE, labels=labels, layers=10, seed=number)
        digests[app] = pushed.digest
    return digests


def old_github_steps(api_url: str, token: str, commit: str) -> None:
    """The seed's tail: create the Git tag (422 tolerated), look for the release in
    the first page of releases, create it."""
    headers = {"authorization": f"Bearer {token}", "accept": "application/vnd.github+json"}
    repo = f"{api_url}/repos/{REPOSITORY}"
    with httpx.Client(headers=headers) as client:
        created = client.post(f"{repo}/git/refs", json={"ref": f"refs/tags/{BASE}", "sha": commit})
        assert created.status_code in (201, 422)
        client.get(f"{repo}/releases", params={"per_page": 100})
        made = client.post(
            f"{repo}/releases",
            json={"tag_name": BASE, "name": BASE, "body": "notes", "prerelease": False},
        )
        assert made.status_code == 201


def delete_tag(bare: Path, tag: str) -> None:
    run_git("update-ref", "-d", f"refs/tags/{tag}", cwd=bare)


def old_method(proxy: Proxy, registry: Registry, owner: str) -> None:
    """The seed's publish-main: tag lists, then crane copy x 12, one after another."""
    skopeo = require_tool("skopeo", "apt-get install skopeo")
    user, password = registry.credentials or ("", "")
    with httpx.Client() as client:
        for app in APPS:
            name = f"{owner}/{app}"
            realm = registry.token_server.url + "/token" if registry.token_server else ""
            token = client.get(
                realm,
                params={"service": "registry.test", "scope": f"repository:{name}:pull"},
                auth=(user, password),
            ).json()["token"]
            listed = client.get(
                f"{proxy.url}/v2/{name}/tags/list", headers={"authorization": f"Bearer {token}"}
            )
            assert SOURCE in listed.json()["tags"]
    creds = f"{user}:{password}"
    for tag in (BASE, "latest"):
        for app in APPS:
            ref = f"{proxy.host}/{owner}/{app}"
            result = subprocess.run(
                [
                    skopeo,
                    "copy",
                    "--all",
                    "--preserve-digests",
                    "--quiet",
                    "--src-tls-verify=false",
                    "--dest-tls-verify=false",
                    "--src-creds",
                    creds,
                    "--dest-creds",
                    creds,
                    f"docker://{ref}:{SOURCE}",
                    f"docker://{ref}:{tag}",
                ],
                check=False,
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, result.stderr


@pytest.mark.benchmark
async def test_promotion_old_method_versus_metaboost_ci(
    world_factory: WorldFactory,
    token_registry: Registry,
    proxy_factory: Callable[..., Proxy],
) -> None:
    proxy = proxy_factory(token_registry, latency=LATENCY)
    world = world_factory(origin=token_registry, via=proxy.registry)
    # GitHub's API is not next door either.
    github = proxy_factory(world.github.api_url, latency=LATENCY)
    commit = world.commit()
    world.github.repos.remote_tag_create(SOURCE, commit)
    old_digests = push_apps(token_registry, "acme/old", commit)
    new_digests = push_apps(token_registry, REPOSITORY, commit)
    tokens = token_registry.token_server
    assert tokens is not None

    proxy.clear()
    tokens.clear()
    started = time.perf_counter()
    old_method(proxy, token_registry, "acme/old")
    old_images_seconds = time.perf_counter() - started
    old_github_steps(github.url, world.github.token, commit)
    old_seconds = time.perf_counter() - started
    # The new run makes its own Git tag and release.
    world.github.releases.clear()
    delete_tag(world.bare, BASE)
    old_requests, old_auth = proxy.count(), len(tokens.requests)

    proxy.clear()
    tokens.clear()
    started = time.perf_counter()
    progress = TimedProgress()
    async with world.context(progress=progress, github_api_url=github.url) as ctx:
        promotion = await promote(ctx, commit=commit, base=BASE, notes="notes")
    new_seconds = time.perf_counter() - started
    new_images_seconds = progress.at("Images promoted") - started
    new_requests, new_auth = proxy.count(), len(tokens.requests)
    per_app = {app: proxy.count(path=rf"^/v2/{REPOSITORY}/{app}/") for app in APPS}

    # Same outcome on both sides (digests preserved), so the comparison is fair.
    for owner, digests in (("acme/old", old_digests), (REPOSITORY, new_digests)):
        for app in APPS:
            for tag in (BASE, "latest"):
                response = fetch_manifest(token_registry, f"{owner}/{app}", tag)
                assert response.headers["docker-content-digest"] == digests[app]
    assert promotion.plan.n == 0

    print()
    print(f"promotion of {len(APPS)} apps, {LATENCY * 1000:.0f} ms added per request")
    print(
        f"  old (6 tag lists + 12 x skopeo copy --all): {old_seconds:7.2f} s, "
        f"{old_requests} registry requests ({old_requests / len(APPS):.1f}/app), "
        f"{old_auth} token requests"
    )
    print(
        f"  metaboost-ci promote:                       {new_seconds:7.2f} s, "
        f"{new_requests} registry requests ({new_requests / len(APPS):.1f}/app), "
        f"{new_auth} token requests"
    )
    print(
        f"  wall-time ratio old/new: {old_seconds / new_seconds:.1f}x (whole promotion, Git tag "
        f"and release included); images only: {old_images_seconds:.2f} s vs "
        f"{new_images_seconds:.2f} s, {old_images_seconds / new_images_seconds:.1f}x"
    )
    phases = ", ".join(f"{t - started:.2f}s {line[:40]}" for t, line in progress.lines)
    print(f"  phases (new): {phases}")
    print("  requests per app (new): " + ", ".join(f"{a} {n}" for a, n in per_app.items()))
