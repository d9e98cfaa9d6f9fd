"""promote and plan_promotion: the cases the old "min of per-image max" got wrong."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from metaboost_ci.core.errors import CheckFailed, RemoteError, TransportError
from metaboost_ci.core.flows import plan_promotion, promote, reserve
from metaboost_ci.core.settings import open_release_context
from tests.support.proxies import Proxy
from tests.support.registry_process import Registry
from tests.support.release import APPS, FAST_POLICY, REPOSITORY, ReleaseWorld, WorldFactory

BASE = "3.1.0"


def staging(n: int) -> str:
    return f"{BASE}-staging.{n}"


def git_tag(world: ReleaseWorld, n: int, commit: str) -> None:
    world.github.repos.remote_tag_create(staging(n), commit)


async def test_chooses_the_highest_n_every_app_has(world: ReleaseWorld) -> None:
    commit = world.commit()
    for n in (0, 1, 2):
        git_tag(world, n, commit)
    builds = {n: world.push_build(staging(n), commit, seed=10 + n) for n in (0,)}
    # A run that failed half-way: staging.1 only on some apps, staging.2 on
    # others. The old "min of maxima" would have picked 1, which web lacks.
    builds[1] = world.push_build(staging(1), commit, apps=APPS[:2], seed=11)
    builds[2] = world.push_build(staging(2), commit, apps=APPS[3:], seed=12)
    async with world.context() as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
    assert plan.n == 0
    assert {a: p.digest for a, p in plan.apps.items()} == {a: builds[0][a].digest for a in APPS}


async def test_builds_of_other_commits_are_not_promoted(world: ReleaseWorld) -> None:
    ours = world.commit("ours")
    newer = world.commit("newer")
    git_tag(world, 0, ours)
    git_tag(world, 1, newer)
    mine = world.push_build(staging(0), ours, seed=20)
    world.push_build(staging(1), newer, seed=21)
    async with world.context() as ctx:
        promotion = await promote(ctx, commit=ours, base=BASE)
    assert promotion.plan.n == 0
    assert world.digests(BASE) == {a: mine[a].digest for a in APPS}


async def test_a_revision_label_that_disagrees_passes_the_n_over(world: ReleaseWorld) -> None:
    commit = world.commit()
    elsewhere = world.commit()
    git_tag(world, 0, commit)
    git_tag(world, 1, commit)
    good = world.push_build(staging(0), commit, seed=30)
    # Git says staging.1 is ours, but one image was built from another commit.
    world.push_build(staging(1), commit, apps=APPS[1:], seed=31)
    world.push_build(staging(1), elsewhere, apps=APPS[:1], seed=32)
    async with world.context() as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
    assert plan.n == 0
    assert plan.apps[APPS[0]].digest == good[APPS[0]].digest
    assert any(elsewhere in reason for reason in plan.passed_over)


async def test_no_qualifying_n_lists_what_exists_and_writes_nothing(world: ReleaseWorld) -> None:
    commit = world.commit("to promote")
    other = world.commit("other")
    git_tag(world, 0, other)
    git_tag(world, 1, commit)
    world.push_build(staging(0), other, seed=40)
    world.push_build(staging(1), commit, apps=APPS[:3], seed=41)
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as failure:
            await promote(ctx, commit=commit, base=BASE)
    text = str(failure.value)
    # Which N each app has, and which commit each was built from.
    assert f"0 at {other[:12]}" in text
    assert f"1 at {commit[:12]}" in text
    assert re.search(rf"{APPS[0]} has N = 0 \(from {other[:12]}\), 1 \(from {commit[:12]}\)", text)
    assert re.search(rf"{APPS[5]} has N = 0 \(from {other[:12]}\)\.", text)
    assert world.snapshot() == before


async def test_base_with_the_same_digest_is_a_no_op(world: ReleaseWorld) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    build = world.push_build(staging(0), commit, seed=50)
    for app in APPS[:3]:
        world.retag(app, build[app], BASE)
    puts_before = world.origin.count("PUT", rf"/manifests/{re.escape(BASE)}$")
    async with world.context() as ctx:
        promotion = await promote(ctx, commit=commit, base=BASE)
    assert [a for a, p in promotion.plan.apps.items() if p.base_done] == list(APPS[:3])
    # Only the three missing BASE tags were written.
    assert world.origin.count("PUT", rf"/manifests/{re.escape(BASE)}$") == puts_before + 3
    assert world.digests(BASE) == {a: build[a].digest for a in APPS}


async def test_base_with_another_digest_is_refused_and_nothing_is_written(
    world: ReleaseWorld,
) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, seed=60)
    squatter = world.push_build(BASE, None, apps=(APPS[4],), seed=61)
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as failure:
            await promote(ctx, commit=commit, base=BASE)
    assert "immutable tags never move" in str(failure.value)
    assert squatter[APPS[4]].digest in str(failure.value)
    assert world.snapshot() == before
    assert world.digest(APPS[4], BASE) == squatter[APPS[4]].digest
    assert world.digest(APPS[0], "latest") is None


async def test_git_tag_base_at_another_commit_is_refused_before_any_write(
    world: ReleaseWorld,
) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, seed=70)
    world.github.annotated_tag(BASE, world.commit("somewhere else"))
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(CheckFailed):
            await promote(ctx, commit=commit, base=BASE)
    assert world.snapshot() == before


async def test_dry_run_plans_the_same_and_writes_nothing(any_world: ReleaseWorld) -> None:
    commit = any_world.commit()
    git_tag(any_world, 0, commit)
    any_world.push_build(staging(0), commit, index_apps=("web",), seed=80)
    before = any_world.snapshot()
    async with any_world.context() as ctx:
        dry = await promote(ctx, commit=commit, base=BASE, dry_run=True)
        assert any_world.snapshot() == before
        real = await promote(ctx, commit=commit, base=BASE)
    assert dry.written == {}
    assert dry.plan.to_dict() == real.plan.to_dict()
    assert dry.git_tag == "planned"
    assert real.git_tag == "created"


async def test_crash_half_way_then_rerun_converges(
    world_factory: WorldFactory, registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    proxy = proxy_factory(registry)
    world = world_factory(via=proxy.registry)
    commit = world.commit()
    git_tag(world, 0, commit)
    build = world.push_build(staging(0), commit, index_apps=("web",), seed=90)
    # The connection to the registry dies for good while BASE is being written
    # for one app (every retry too); the others get BASE, nobody gets latest.
    proxy.inject("drop", method="PUT", path=rf"/{APPS[1]}/manifests/{BASE}$", times=1000)
    async with world.context() as ctx:
        with pytest.raises(RemoteError) as failure:
            await promote(ctx, commit=commit, base=BASE)
    # The error says what state the crash left and how to converge.
    assert isinstance(failure.value.__cause__, TransportError)
    assert f"not for {APPS[1]}:" in failure.value.message
    assert "latest not moved on any app" in failure.value.message
    assert "again" in (failure.value.fix or "")
    assert world.digest(APPS[1], BASE) is None
    assert world.digest(APPS[0], BASE) == build[APPS[0]].digest
    assert world.digests("latest") == dict.fromkeys(APPS)
    assert BASE not in world.git_tags()

    # The network is back: the re-run reaches the registry directly.
    async with world.context(registry_url=registry.url) as ctx:
        promotion = await promote(ctx, commit=commit, base=BASE, notes="notes")
    assert world.digests(BASE) == {a: build[a].digest for a in APPS}
    assert world.digests("latest") == {a: build[a].digest for a in APPS}
    assert world.git_tags()[BASE] == commit
    assert promotion.release.action == "created"
    assert [a for a, p in promotion.plan.apps.items() if not p.base_done] == [APPS[1]]


async def test_crash_while_moving_latest_then_rerun_converges(
    world_factory: WorldFactory, registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    proxy = proxy_factory(registry)
    world = world_factory(via=proxy.registry)
    commit = world.commit()
    git_tag(world, 0, commit)
    old = world.push_build("3.0.0", commit, seed=96)
    for app in APPS:
        world.retag(app, old[app], "latest")
    build = world.push_build(staging(0), commit, seed=97)
    proxy.inject("drop", method="PUT", path=rf"/{APPS[2]}/manifests/latest$", times=1000)
    async with world.context() as ctx:
        with pytest.raises(RemoteError) as failure:
            await promote(ctx, commit=commit, base=BASE)
    assert f"not for {APPS[2]}:" in failure.value.message
    # Every BASE was written and verified by its write before any latest moved.
    assert world.digests(BASE) == {a: build[a].digest for a in APPS}
    assert world.digest(APPS[2], "latest") == old[APPS[2]].digest
    # The Git tag may be there (it is true once every BASE is); the release is not.
    assert world.git_tags().get(BASE, commit) == commit
    assert world.github.releases == {}

    async with world.context(registry_url=registry.url) as ctx:
        promotion = await promote(ctx, commit=commit, base=BASE, notes="notes")
    assert all(p.base_done for p in promotion.plan.apps.values())
    assert world.digests("latest") == {a: build[a].digest for a in APPS}
    assert world.git_tags()[BASE] == commit


async def test_requests_per_app_stay_within_budget(
    world_factory: WorldFactory, registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    proxy = proxy_factory(registry)
    world = world_factory(via=proxy.registry)
    commit = world.commit()
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, index_apps=("web",), seed=95)
    proxy.clear()
    async with world.context() as ctx:
        await promote(ctx, commit=commit, base=BASE)
    for app in APPS:
        sent = proxy.count(path=rf"^/v2/[^?]*/{app}/")
        # tag list, manifest, label reads (config; an index: its first child and
        # that child's config), PUT BASE, PUT latest, then the tag list again
        # (latest's check after a possible concurrent promotion).
        assert sent <= 7, (app, [r for r in proxy.records if f"/{app}/" in r.path])


async def test_the_git_store_is_read_while_the_registry_is_first_asked(
    world_factory: WorldFactory, registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    # A slow registry: its first exchange (GET /v2/, then a token where one is
    # wanted) must not delay the Git store's reads, which need no token.
    slow = proxy_factory(registry, latency=0.3)
    world = world_factory(via=slow.registry)
    github = proxy_factory(world.github.api_url)
    commit = world.commit()
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, seed=96)
    slow.clear()
    async with world.context(github_api_url=github.url) as ctx:
        await plan_promotion(ctx, commit=commit, base=BASE, then_write=True)
    [ping] = [r for r in slow.records if r.path == "/v2/"]
    store_reads = [r for r in github.records if "/git/matching-refs/" in r.path]
    assert store_reads
    assert all(r.arrived < ping.answered for r in store_reads), (ping, store_reads)


async def test_the_likely_source_is_read_while_the_tag_lists_come(
    world_factory: WorldFactory, registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    # The highest N whose Git tag is at the commit is read (manifest, labels)
    # without waiting for the tag list that confirms it: a round trip saved.
    slow = proxy_factory(registry, latency=0.3)
    world = world_factory(via=slow.registry)
    commit = world.commit()
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, index_apps=("web",), seed=97)
    slow.clear()
    async with world.context() as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
    assert plan.n == 0
    for app in APPS:
        [listed] = [
            r for r in slow.records if r.path.startswith(f"/v2/{REPOSITORY}/{app}/tags/list")
        ]
        [source] = [
            r for r in slow.records if r.path == f"/v2/{REPOSITORY}/{app}/manifests/{staging(0)}"
        ]
        assert source.arrived < listed.answered, app


async def test_a_wrong_guess_costs_one_read_and_the_plan_is_the_same(world: ReleaseWorld) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    git_tag(world, 1, commit)
    # N = 1 has its Git tag at the commit but was never built: the early read
    # of it fails, and the plan goes on to N = 0 as before.
    world.push_build(staging(0), commit, seed=98)
    async with world.context() as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
    assert plan.n == 0
    assert all(p.source == staging(0) for p in plan.apps.values())


async def test_latest_is_checked_while_the_git_tag_is_made(
    world_factory: WorldFactory, registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    # A slow GitHub: latest's re-read after the writes must not wait for the
    # Git tag, nor the release's look-up for either.
    quick = proxy_factory(registry)
    world = world_factory(via=quick.registry)
    slow = proxy_factory(world.github.api_url, latency=0.3)
    commit = world.commit()
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, seed=99)
    quick.clear()
    async with world.context(github_api_url=slow.url) as ctx:
        await promote(ctx, commit=commit, base=BASE)
    [made] = [r for r in slow.records if r.method == "POST" and r.path.endswith("/git/refs")]
    [looked] = [r for r in slow.records if r.path.endswith(f"/releases/tags/{BASE}")]
    lists = [r for r in quick.records if "/tags/list" in r.path]
    rereads = lists[len(APPS) :]  # after the plan's own
    assert len(rereads) == len(APPS)
    assert all(r.arrived < made.answered for r in rereads), (made, rereads)
    assert looked.arrived < made.answered


async def test_tag_lists_are_read_past_the_first_page(
    world_factory: WorldFactory, registry: Registry, paging_proxy: Callable[..., Proxy]
) -> None:
    # GHCR pages tag lists; the old workflow read only the first page.
    proxy = paging_proxy(registry, page_tags=2)
    world = world_factory(via=proxy.registry)
    commit = world.commit()
    builds = {n: world.push_build(staging(n), commit, layers=1, seed=200 + n) for n in range(5)}
    # Git has only staging.0 and .1; the registry has up to .4 (Git tags deleted,
    # say), so only a full listing keeps reserve off numbers with images.
    for n in range(2):
        git_tag(world, n, commit)
    # Pages of two tags (GHCR's are 100): staging.4 sorts onto the third page.
    settings = world.settings()
    async with open_release_context(settings, policy=FAST_POLICY, page_size=2) as ctx:
        reservation = await reserve(ctx, commit=commit, base=BASE, dry_run=True)
    for n in range(2, 5):
        git_tag(world, n, commit)
    async with open_release_context(settings, policy=FAST_POLICY, page_size=2) as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
    assert reservation.n == 5
    assert plan.n == 4
    assert {a: p.digest for a, p in plan.apps.items()} == {a: builds[4][a].digest for a in APPS}
    assert proxy.count("GET", path=rf"/{APPS[0]}/tags/list") >= 2 * 3


def _promote_line(world: ReleaseWorld, base: str, *, seed: int) -> tuple[str, dict[str, str]]:
    """A commit with its staging build of ``base`` (N = 0); returns it and its digests."""
    commit = world.commit(f"release {base}")
    world.github.repos.remote_tag_create(f"{base}-staging.0", commit)
    build = world.push_build(f"{base}-staging.0", commit, seed=seed)
    return commit, {app: build[app].digest for app in APPS}


def _manifest_puts(world: ReleaseWorld) -> int:
    return world.origin.count("PUT", r"/manifests/")


async def test_a_second_promotion_writes_nothing(world: ReleaseWorld) -> None:
    commit, digests = _promote_line(world, BASE, seed=200)
    async with world.context() as ctx:
        await promote(ctx, commit=commit, base=BASE, notes="notes")
    puts = _manifest_puts(world)
    async with world.context() as ctx:
        again = await promote(ctx, commit=commit, base=BASE, notes="notes")
    # BASE and latest already name the images: nothing is written twice.
    assert all(p.base_done and p.latest_done for p in again.plan.apps.values())
    assert again.written == dict.fromkeys(APPS, ())
    assert _manifest_puts(world) == puts
    assert world.digests("latest") == digests


async def test_rerunning_an_older_promotion_leaves_latest_at_the_newer_release(
    world: ReleaseWorld,
) -> None:
    older, older_digests = _promote_line(world, BASE, seed=210)
    newer, newer_digests = _promote_line(world, "3.2.0", seed=211)
    async with world.context() as ctx:
        await promote(ctx, commit=older, base=BASE, notes="notes")
        await promote(ctx, commit=newer, base="3.2.0", notes="notes")
    assert world.digests("latest") == newer_digests
    puts = _manifest_puts(world)

    # The main job of the older commit runs again (a re-run of an old workflow).
    async with world.context() as ctx:
        rerun = await promote(ctx, commit=older, base=BASE, notes="notes")
    assert world.digests("latest") == newer_digests  # not rolled back
    assert world.digests(BASE) == older_digests
    assert rerun.plan.newer_release == "3.2.0"
    assert not rerun.plan.moves_latest
    assert {a["latest"] for a in rerun.plan.to_dict()["apps"].values()} == {"kept"}
    assert rerun.written == dict.fromkeys(APPS, ())
    assert _manifest_puts(world) == puts
    assert any("3.2.0 is a newer release" in note for note in rerun.notes)
    summary = rerun.summary()
    assert all("latest" not in row.tags for row in summary.images)
    assert "float_tag" not in summary.github_output()


async def test_a_hotfix_on_an_older_line_is_not_made_latest_anywhere(world: ReleaseWorld) -> None:
    newer, newer_digests = _promote_line(world, "3.2.0", seed=220)
    async with world.context() as ctx:
        await promote(ctx, commit=newer, base="3.2.0", notes="notes")
    newest_release = world.github.latest_release_id
    hotfix, hotfix_digests = _promote_line(world, "3.1.1", seed=221)

    async with world.context() as ctx:
        promotion = await promote(ctx, commit=hotfix, base="3.1.1", notes="notes")
    # The hotfix is released (image tag, Git tag, GitHub release)...
    assert world.digests("3.1.1") == hotfix_digests
    assert world.git_tags()["3.1.1"] == hotfix
    assert promotion.release.action == "created"
    # ...but neither latest nor GitHub's "latest" release moves to it.
    assert world.digests("latest") == newer_digests
    assert world.github.latest_release_id == newest_release
    posted = [r for r in world.github.requests_for("POST", "/releases") if r.body]
    assert posted[-1].body["tag_name"] == "3.1.1"
    assert posted[-1].body["make_latest"] == "false"
