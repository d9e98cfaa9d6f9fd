"""Benchmark: what reserving a staging version costs, alone and under contention.

Reports figures, asserts no timing. Run: ``.venv/bin/pytest -m benchmark -s tests/benchmarks``.

One uncontended ``reserve`` (in process), then eight ``metaboost-ci reserve``
processes started together on one base. GitHub requests are counted at the
emulator, registry requests at a proxy in front of the registry (the registry's
tags are part of the starting hint).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from metaboost_ci.core.flows import reserve
from tests.support.proxies import Proxy
from tests.support.registry_process import Registry
from tests.support.release import WorldFactory, reserve_concurrently

BASE = "8.0.0"


def github_calls(world_requests: list[tuple[str, str]]) -> str:
    kinds = Counter(
        "create ref" if m == "POST" else "list tags" if "matching-refs" in p else f"{m} other"
        for m, p in world_requests
    )
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))


@pytest.mark.benchmark
@pytest.mark.parametrize("store", ["github", "git"])
async def test_reservation_requests(
    store: str,
    world_factory: WorldFactory,
    registry: Registry,
    proxy_factory: Callable[..., Proxy],
    tmp_path: Path,
) -> None:
    proxy = proxy_factory(registry)
    world = world_factory(store, via=proxy.registry)
    world.push_build(f"{BASE}-staging.0", None)
    world.github.repos.remote_tag_create(f"{BASE}-staging.0", world.commit())
    commit = world.commit()

    proxy.clear()
    world.github.requests.clear()
    started = time.perf_counter()
    async with world.context() as ctx:
        one = await reserve(ctx, commit=commit, base=BASE)
    seconds = time.perf_counter() - started
    alone_github = [(r.method, r.path) for r in world.github.requests]
    alone_registry = proxy.count()

    proxy.clear()
    world.github.requests.clear()
    started = time.perf_counter()
    many = reserve_concurrently(world, tmp_path, base=BASE, processes=8)
    contended_seconds = time.perf_counter() - started
    creates = sum(int(r["attempts"]) for r in many)
    numbers = sorted(int(r["n"]) for r in many)
    many_github = [(r.method, r.path) for r in world.github.requests]

    print()
    print(f"reservation with the {store} tag store")
    print(
        f"  one uncontended reserve: {one.version}, {one.attempts} create call(s), {seconds:.2f} s"
    )
    if store == "github":
        print(f"    GitHub requests: {len(alone_github)} ({github_calls(alone_github)})")
    print(f"    registry requests (the hint): {alone_registry} (one tag list per app + probe)")
    print(
        f"  8 contended processes: N = {numbers}, {creates} create calls in all "
        f"(min 8, worst {8 * 9 // 2}), {contended_seconds:.2f} s wall"
    )
    if store == "github":
        print(f"    GitHub requests: {len(many_github)} ({github_calls(many_github)})")
    print(f"    registry requests: {proxy.count()}")
