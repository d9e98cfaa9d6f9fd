"""Benchmark: listing 1, 10,000 and 50,000 tags, in pages of 1000 and of 100.

Reports figures (requests and seconds), asserts only the request counts.
Run: ``.venv/bin/pytest -m benchmark -s tests/benchmarks/test_tag_list_benchmark.py``.

The tags live in a real docker-registry 2.8.2. Pushing 50,000 tags through
the API would take minutes, so one image is pushed and tagged normally, and
the other tags are written the way the registry's filesystem driver stores a
tag (``_manifests/tags/<tag>/current/link`` naming the digest): the registry
lists and resolves them like pushed ones. docker-registry never pages, so
the paging proxy pages like GHCR; a registry capping pages at 100 is the
proxy with ``page_cap=100`` (the client still asks for 1000). The proxy reads
the registry's list once per repository (``cache_tags``): the client's cost
is the subject, not the registry's directory walk on every page.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from metaboost_ci.core.registry import RegistryClient
from tests.support.images import build_image, push
from tests.support.proxies import Proxy
from tests.support.registry import Registry

pytestmark = pytest.mark.benchmark

COUNTS = (1, 10_000, 50_000)


def add_tags(registry: Registry, name: str, count: int) -> None:
    """``count`` tags on one image: one pushed, the rest written as the registry stores them."""
    pushed = push(registry, name, build_image(layers=1, layer_size=16), "t000000")
    tags_dir = registry.storage / "docker/registry/v2/repositories" / name / "_manifests/tags"
    link = (tags_dir / "t000000/current/link").read_bytes()
    assert link.decode() == pushed.digest
    for number in range(1, count):
        current = tags_dir / f"t{number:06d}" / "current"
        current.mkdir(parents=True)
        (current / "link").write_bytes(link)


async def test_tag_listing_requests_and_time(
    registry: Registry,
    paging_proxy: Callable[..., Proxy],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for count in COUNTS:
        add_tags(registry, f"owner/bench/t{count}", count)
    rows: list[tuple[int, int, int, float]] = []
    for page in (1000, 100):
        # The client asks for 1000 a page; this registry sends at most ``page``.
        proxy = paging_proxy(registry, page_tags=page, page_cap=page, cache_tags=True)
        for count in COUNTS:
            name = f"owner/bench/t{count}"
            async with RegistryClient(proxy.url) as warm:
                await warm.list_tags(name)  # the proxy reads the registry's list once
            async with RegistryClient(proxy.url) as client:
                started = time.perf_counter()
                listed = await client.list_tags(name)
                seconds = time.perf_counter() - started
            assert len(listed) == count
            assert len(set(listed)) == count
            assert client.requests_sent == -(-count // page)  # one request a page, no more
            rows.append((count, page, client.requests_sent, seconds))
    with capsys.disabled():
        print("\ntag listing through a paging registry (client asks for 1000 a page):")
        print(f"  {'tags':>7} {'page':>5} {'requests':>9} {'seconds':>8} {'tags/s':>9}")
        for count, page, requests, seconds in rows:
            rate = count / seconds if seconds else 0.0
            print(f"  {count:>7} {page:>5} {requests:>9} {seconds:>8.3f} {rate:>9.0f}")


def test_tag_files_are_what_the_registry_lists(registry: Registry) -> None:
    """The shortcut above is only fair if the registry serves such tags itself."""
    add_tags(registry, "owner/bench/check", 3)
    answer = httpx.get(f"{registry.url}/v2/owner/bench/check/tags/list", timeout=10)
    assert sorted(answer.json()["tags"]) == ["t000000", "t000001", "t000002"]
    head = httpx.head(
        f"{registry.url}/v2/owner/bench/check/manifests/t000002",
        headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    assert head.status_code == 200
