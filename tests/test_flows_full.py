"""The whole staging publish, then the main promotion, against real parts.

Images are pushed by the test where the build would push them; everything
else is the flows: reserve (Git tag), verify, move the floating tag, verify
again, prerelease, summary; then promote, the Git tag and the full release.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metaboost_ci.core.errors import CheckFailed, RemoteError
from metaboost_ci.core.flows import (
    ImageRow,
    PublishSummary,
    move_floating,
    promote,
    release,
    reserve,
    verify,
)
from tests.support.proxies import Proxy
from tests.support.registry_process import Registry
from tests.support.release import APPS, REPOSITORY, ReleaseWorld, WorldFactory

BASE = "1.4.0"


async def staging_publish(world: ReleaseWorld, commit: str, *, index_apps: tuple[str, ...] = ()):
    """What publish-staging does around the build, in order."""
    async with world.context() as ctx:
        reservation = await reserve(ctx, commit=commit, base=BASE)
        pushed = world.push_build(reservation.version, commit, index_apps=index_apps)
        await verify(ctx, version=reservation.version)
        await move_floating(ctx, version=reservation.version, float_tag="staging")
        verification = await verify(ctx, version=reservation.version, float_tag="staging")
        outcome = await release(
            ctx,
            tag=reservation.version,
            commit=commit,
            notes=f"notes for {reservation.version}",
            prerelease=True,
        )
        rows = tuple(
            ImageRow(app, ctx.image(app), (reservation.version, "staging"), digest)
            for app, digest in verification.digests.items()
        )
        summary = PublishSummary(reservation.version, rows, "staging")
    return reservation, pushed, outcome, summary


@pytest.mark.parametrize("store", ["github", "git"])
async def test_staging_then_main(
    store: str, world_factory: WorldFactory, token_registry: Registry
) -> None:
    world = world_factory(store, origin=token_registry)
    first = world.commit("feature A")
    r0, _, _, _ = await staging_publish(world, first)
    second = world.commit("feature B")
    r1, pushed, outcome, summary = await staging_publish(world, second, index_apps=("web",))

    # Staging: N from the Git tags, both tags on one digest per app, the prerelease.
    assert (r0.version, r1.version) == (f"{BASE}-staging.0", f"{BASE}-staging.1")
    assert r1.attempts == 1
    tags = world.git_tags()
    assert tags[r0.version] == first
    assert tags[r1.version] == second
    for app in APPS:
        assert world.digest(app, r1.version) == pushed[app].digest
        assert world.digest(app, "staging") == pushed[app].digest
    if store == "github":
        assert outcome.action == "created"
        assert outcome.prerelease
        created = next(r for r in world.github.releases.values() if r["tag_name"] == r1.version)
        assert created["prerelease"] is True
        assert created["body"] == f"notes for {r1.version}"
        assert world.github.latest_release_id != created["id"]
    else:
        assert outcome.action == "skipped"
        assert "Git remote" in (outcome.reason or "")
        assert world.github.releases == {}
    assert f"`{world.via.host}/{REPOSITORY}/web`" in summary.markdown()
    assert f"digest_web={pushed['web'].digest}\n" in summary.github_output()

    # Main: promote the second commit: staging.1, not staging.0.
    async with world.context() as ctx:
        promotion = await promote(ctx, commit=second, base=BASE, notes="the 1.4.0 notes")
    assert promotion.plan.n == 1
    for app in APPS:
        assert world.digest(app, BASE) == pushed[app].digest
        assert world.digest(app, "latest") == pushed[app].digest
    # The index (with attestations) kept its digest: bytes were not re-serialised.
    assert world.digest("web", BASE) == pushed["web"].digest
    assert world.git_tags()[BASE] == second
    assert promotion.git_tag == "created"
    if store == "github":
        final = next(r for r in world.github.releases.values() if r["tag_name"] == BASE)
        assert final["prerelease"] is False
        assert final["body"] == "the 1.4.0 notes"
        assert world.github.latest_release_id == final["id"]
    else:
        assert promotion.release.action == "skipped"
        assert any("Git remote" in note for note in promotion.summary().notes)

    # A re-run changes nothing and succeeds.
    before = world.snapshot()
    async with world.context() as ctx:
        again = await promote(ctx, commit=second, base=BASE, notes="the 1.4.0 notes")
    assert all(p.base_done for p in again.plan.apps.values())
    assert again.git_tag == "exists"
    assert world.snapshot().git_tags == before.git_tags
    assert len(world.github.releases) == before.releases


async def test_floating_tag_not_moved_when_an_app_lacks_the_version(world: ReleaseWorld) -> None:
    commit = world.commit()
    old = world.push_build(f"{BASE}-staging.0", commit, seed=1)
    for app, image in old.items():
        world.retag(app, image, "staging")
    world.push_build(f"{BASE}-staging.1", commit, apps=APPS[:-1], seed=2)
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as failure:
            await move_floating(ctx, version=f"{BASE}-staging.1", float_tag="staging")
    assert APPS[-1] in str(failure.value)
    assert world.snapshot().registry_writes == before.registry_writes
    # Every floating tag still names the old release: no mix.
    assert world.digests("staging") == {app: old[app].digest for app in APPS}


async def test_verify_reports_every_problem_at_once(world: ReleaseWorld) -> None:
    commit = world.commit()
    version = f"{BASE}-staging.0"
    pushed = world.push_build(version, commit, apps=APPS[:4], seed=3)
    world.retag(APPS[0], pushed[APPS[0]], "staging")
    other = world.push_build("other", commit, apps=(APPS[1],), seed=4)
    world.retag(APPS[1], other[APPS[1]], "staging")
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as failure:
            await verify(ctx, version=version, float_tag="staging")
    problems = failure.value.problems
    # apps 2,3: no staging; app 1: staging elsewhere; apps 4,5: nothing at all.
    assert len(problems) == 2 + 1 + 4
    assert any(APPS[1] in p and "names" in p for p in problems)
    assert sum(APPS[5] in p for p in problems) == 2


async def test_moving_staging_fails_half_way_then_again_converges(
    world_factory: WorldFactory, registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    proxy = proxy_factory(registry)
    world = world_factory(via=proxy.registry)
    commit = world.commit()
    old = world.push_build(f"{BASE}-staging.0", commit, seed=5)
    for app, image in old.items():
        world.retag(app, image, "staging")
    new = world.push_build(f"{BASE}-staging.1", commit, seed=6)
    # The registry connection dies for good while staging is written for one app.
    proxy.inject("drop", method="PUT", path=rf"/{APPS[3]}/manifests/staging$", times=1000)
    async with world.context() as ctx:
        with pytest.raises(RemoteError) as failure:
            await move_floating(ctx, version=f"{BASE}-staging.1", float_tag="staging")
    # A registry cannot write six tags at once: the error names the state left.
    assert f"but not for {APPS[3]}:" in failure.value.message
    assert world.digest(APPS[3], "staging") == old[APPS[3]].digest
    assert "again" in (failure.value.fix or "")

    puts_before = world.origin.count("PUT", r"/manifests/staging$")
    async with world.context(registry_url=registry.url) as ctx:
        moved = await move_floating(ctx, version=f"{BASE}-staging.1", float_tag="staging")
        await verify(ctx, version=f"{BASE}-staging.1", float_tag="staging")
    # Only the app left behind is written again.
    assert moved.moved == (APPS[3],)
    assert world.origin.count("PUT", r"/manifests/staging$") == puts_before + 1
    assert world.digests("staging") == {app: new[app].digest for app in APPS}
