"""The flows through fault proxies: 20% of requests fail (429, 5xx, drops),
half of the failed writes after the remote acted on them. Everything must
still succeed, and nothing may be duplicated or left half-moved."""

from __future__ import annotations

from collections.abc import Callable

from metaboost_ci.core.flows import move_floating, promote, release, reserve, verify
from tests.support.proxies import Proxy
from tests.support.registry_process import Registry
from tests.support.release import APPS, ReleaseWorld, WorldFactory

BASE = "5.0.0"


async def publish_staging(world: ReleaseWorld, commit: str, api_url: str, seed: int) -> str:
    async with world.context(github_api_url=api_url) as ctx:
        reservation = await reserve(ctx, commit=commit, base=BASE)
        world.push_build(reservation.version, commit, index_apps=("web",), seed=seed)
        await verify(ctx, version=reservation.version)
        await move_floating(ctx, version=reservation.version, float_tag="staging")
        await verify(ctx, version=reservation.version, float_tag="staging")
        await release(ctx, tag=reservation.version, commit=commit, notes="n", prerelease=True)
    return reservation.version


async def test_flows_converge_through_a_20_percent_fault_rate(
    world_factory: WorldFactory, registry: Registry, fault_proxy: Callable[..., Proxy]
) -> None:
    registry_faults = fault_proxy(registry, rate=0.2, seed=7, processed_rate=0.5)
    world = world_factory(via=registry_faults.registry)
    github_faults = fault_proxy(world.github.api_url, rate=0.2, seed=8, processed_rate=0.5)
    # Beyond the random ones, for sure: writes whose answers are lost.
    registry_faults.inject("502", method="PUT", path="/manifests/", times=2, processed=True)
    github_faults.inject("drop", method="POST", path="/git/refs", processed=True)
    github_faults.inject("502", method="POST", path="/releases", processed=True)

    first, second = world.commit("A"), world.commit("B")
    v0 = await publish_staging(world, first, github_faults.url, seed=1)
    v1 = await publish_staging(world, second, github_faults.url, seed=2)
    async with world.context(github_api_url=github_faults.url) as ctx:
        promotion = await promote(ctx, commit=second, base=BASE, notes="final")

    # The faults really happened, on both remotes, writes included.
    assert registry_faults.count(faults=True) >= 10
    assert registry_faults.count("PUT", faults=True) >= 2
    assert github_faults.count("POST", faults=True) >= 2
    # Nothing duplicated: one Git tag per version, one release per tag.
    assert (v0, v1, promotion.plan.n) == (f"{BASE}-staging.0", f"{BASE}-staging.1", 1)
    assert world.git_tags() == {v0: first, v1: second, BASE: second}
    assert sorted(r["tag_name"] for r in world.github.releases.values()) == sorted([v0, v1, BASE])
    # Nothing half-moved: every floating tag names the version it was moved to.
    assert world.digests("staging") == world.digests(v1)
    assert world.digests("latest") == world.digests(v1) == world.digests(BASE)
    assert None not in world.digests(BASE).values()
    assert set(world.digests(BASE)) == set(APPS)
