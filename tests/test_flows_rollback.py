"""rollback and status: real registry, real Git remotes, the GitHub emulator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from metaboost_ci.core.errors import CheckFailed, InputError
from metaboost_ci.core.flows import promote, read_status, rollback
from tests.support.images import PushedImage
from tests.support.release import APPS, ReleaseWorld

OLD, NEW, NEWER = "3.1.0", "3.2.0", "3.3.0"


@dataclass(frozen=True)
class Line:
    """A commit and its staging build (one image per app)."""

    commit: str
    build: dict[str, PushedImage]

    @property
    def digests(self) -> dict[str, str]:
        return {app: image.digest for app, image in self.build.items()}


def released(world: ReleaseWorld, base: str, *, seed: int) -> Line:
    """A commit with its staging build of ``base`` (N = 0)."""
    commit = world.commit(f"release {base}")
    world.github.repos.remote_tag_create(f"{base}-staging.0", commit)
    return Line(commit, world.push_build(f"{base}-staging.0", commit, seed=seed))


async def two_releases(world: ReleaseWorld) -> dict[str, Line]:
    """OLD then NEW promoted for real: latest on NEW, GitHub's latest release NEW."""
    lines = {OLD: released(world, OLD, seed=300), NEW: released(world, NEW, seed=301)}
    async with world.context() as ctx:
        for base, line in lines.items():
            await promote(ctx, commit=line.commit, base=base, notes="notes")
    assert world.digests("latest") == lines[NEW].digests
    return lines


def release_id(world: ReleaseWorld, tag: str) -> int:
    return next(r["id"] for r in world.github.releases.values() if r["tag_name"] == tag)


async def test_rollback_moves_latest_everywhere_and_records_it(any_world: ReleaseWorld) -> None:
    world = any_world
    lines = await two_releases(world)
    async with world.context() as ctx:
        done = await rollback(ctx, version=OLD)
        status = await read_status(ctx)
    assert world.digests("latest") == lines[OLD].digests
    assert done.moved == list(APPS)
    assert {a.from_version for a in done.apps.values()} == {NEW}
    record = f"rollback/latest/0/{OLD}/{NEW}"
    assert done.record_tag == record
    assert world.git_tags()[record] == lines[OLD].commit
    if world.store == "github":
        assert world.github.latest_release_id == release_id(world, OLD)
        assert done.github_release == "marked"
    else:
        assert done.github_release.startswith("skipped")
    # status agrees: latest is where the record holds it, nothing inconsistent.
    assert status.consistent, status.problems
    assert status.rollback_in_force
    assert status.common_version("latest") == OLD
    assert status.highest_release == NEW


async def test_a_rerun_of_the_rolled_back_promotion_does_not_undo_it(
    any_world: ReleaseWorld,
) -> None:
    world = any_world
    lines = await two_releases(world)
    async with world.context() as ctx:
        await rollback(ctx, version=OLD)
    before = world.snapshot()
    async with world.context() as ctx:
        rerun = await promote(ctx, commit=lines[NEW].commit, base=NEW, notes="notes")
    assert world.digests("latest") == lines[OLD].digests
    assert not rerun.plan.moves_latest
    assert rerun.plan.held_by is not None
    assert any("rollback/latest/0" in note for note in rerun.notes)
    assert world.snapshot() == before
    if world.store == "github":
        assert world.github.latest_release_id == release_id(world, OLD)


async def test_promoting_a_newer_release_clears_the_rollback(world: ReleaseWorld) -> None:
    await two_releases(world)
    async with world.context() as ctx:
        await rollback(ctx, version=OLD)
    newer = released(world, NEWER, seed=302)
    async with world.context() as ctx:
        promotion = await promote(ctx, commit=newer.commit, base=NEWER, notes="notes")
        status = await read_status(ctx)
    assert promotion.plan.moves_latest
    assert world.digests("latest") == newer.digests
    assert world.github.latest_release_id == release_id(world, NEWER)
    assert not status.rollback_in_force
    assert status.consistent, status.problems


async def test_rolling_forward_clears_the_hold(any_world: ReleaseWorld) -> None:
    world = any_world
    lines = await two_releases(world)
    async with world.context() as ctx:
        await rollback(ctx, version=OLD)
        forward = await rollback(ctx, version=NEW)
        status = await read_status(ctx)
    assert world.digests("latest") == lines[NEW].digests
    assert forward.record_tag == f"rollback/latest/1/{NEW}/{NEW}"
    assert {a.from_version for a in forward.apps.values()} == {OLD}
    assert not status.rollback_in_force
    assert status.consistent, status.problems
    # Nothing holds latest back any more: a rollback to OLD is a fresh hold.
    async with world.context() as ctx:
        again = await rollback(ctx, version=OLD, dry_run=True)
    assert again.record_tag == f"rollback/latest/2/{OLD}/{NEW}"


async def test_one_app_without_the_version_writes_nothing(any_world: ReleaseWorld) -> None:
    world = any_world
    lines = await two_releases(world)
    # An older line that one app never got.
    commit = world.commit("partial")
    world.github.repos.remote_tag_create("3.0.0", commit)
    world.push_build("3.0.0", commit, apps=APPS[:-1], seed=303)
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as failure:
            await rollback(ctx, version="3.0.0")
    assert f"{APPS[-1]}:3.0.0 does not exist" in str(failure.value)
    assert world.snapshot() == before
    assert world.digests("latest") == lines[NEW].digests


async def test_a_version_without_its_git_tag_writes_nothing(world: ReleaseWorld) -> None:
    await two_releases(world)
    world.push_build("3.0.0", world.commit("untagged"), seed=304)
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(CheckFailed, match=r"Git tag 3\.0\.0 does not exist"):
            await rollback(ctx, version="3.0.0")
    assert world.snapshot() == before


async def test_a_version_without_its_github_release_writes_nothing(world: ReleaseWorld) -> None:
    # Tagged and on every app, but never released: it cannot become GitHub's latest.
    lines = await two_releases(world)
    commit = world.commit("tagged, not released")
    world.github.repos.remote_tag_create("3.0.0", commit)
    world.push_build("3.0.0", commit, seed=305)
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(CheckFailed, match=r"GitHub release 3\.0\.0 does not exist"):
            await rollback(ctx, version="3.0.0")
    assert world.snapshot() == before
    assert world.digests("latest") == lines[NEW].digests


async def test_an_unknown_version_is_bad_input_and_writes_nothing(world: ReleaseWorld) -> None:
    await two_releases(world)
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(InputError, match=r"No app has 9\.9\.9"):
            await rollback(ctx, version="9.9.9")
    assert world.snapshot() == before


async def test_dry_run_then_rerun_write_nothing(any_world: ReleaseWorld) -> None:
    world = any_world
    lines = await two_releases(world)
    before = world.snapshot()
    async with world.context() as ctx:
        dry = await rollback(ctx, version=OLD, dry_run=True)
    assert world.snapshot() == before
    assert dry.moved == list(APPS)
    assert dry.record == "planned"
    async with world.context() as ctx:
        await rollback(ctx, version=OLD)
    after = world.snapshot()
    async with world.context() as ctx:
        rerun = await rollback(ctx, version=OLD)
    assert world.snapshot() == after
    assert not rerun.changed
    assert rerun.record == "unchanged"
    assert world.digests("latest") == lines[OLD].digests


async def test_staging_rolls_back_without_a_record(world: ReleaseWorld) -> None:
    commit = world.commit()
    builds = {}
    for n in (0, 1):
        world.github.repos.remote_tag_create(f"{NEW}-staging.{n}", commit)
        builds[n] = world.push_build(f"{NEW}-staging.{n}", commit, seed=310 + n)
        for app in APPS:
            world.retag(app, builds[n][app], "staging")
    async with world.context() as ctx:
        done = await rollback(ctx, version=f"{NEW}-staging.0", float_tag="staging")
        status = await read_status(ctx)
    assert world.digests("staging") == {a: builds[0][a].digest for a in APPS}
    assert done.record_tag is None
    assert not any(t.startswith("rollback/") for t in world.git_tags())
    assert status.common_version("staging") == f"{NEW}-staging.0"
    assert status.newest_staging == f"{NEW}-staging.1"
    assert status.pending_promotion == f"{NEW}-staging.1"


async def test_status_reports_a_floating_tag_on_a_mix_of_versions(world: ReleaseWorld) -> None:
    commit = world.commit()
    builds = {}
    for n in (0, 1):
        world.github.repos.remote_tag_create(f"{NEW}-staging.{n}", commit)
        builds[n] = world.push_build(f"{NEW}-staging.{n}", commit, seed=320 + n)
    # A publish that died half-way through moving staging.
    for app in APPS:
        world.retag(app, builds[1 if app in APPS[:2] else 0][app], "staging")
    async with world.context() as ctx:
        status = await read_status(ctx)
    assert not status.consistent
    versions = status.versions("staging")
    assert versions[APPS[0]] == f"{NEW}-staging.1"
    assert versions[APPS[5]] == f"{NEW}-staging.0"
    assert any("staging names a mix" in p and APPS[5] in p for p in status.problems)
    named = status.apps[APPS[0]].floating["staging"]
    assert named is not None
    assert named.revision == commit
    assert named.created


async def test_status_reports_latest_off_the_highest_release(world: ReleaseWorld) -> None:
    await two_releases(world)
    # latest moved back by hand, with no rollback record: promote would undo it.
    old = world.push_build("3.0.0", world.commit("old"), seed=330)
    for app in APPS:
        world.retag(app, old[app], "latest")
    async with world.context() as ctx:
        status = await read_status(ctx)
    assert not status.consistent
    assert status.common_version("latest") == "3.0.0"  # from the images' version label
    assert any(f"latest is not on {NEW} on {', '.join(APPS)}:" in p for p in status.problems)
    assert "Release 3.0.0 is on the registry but has no Git tag" in " ".join(status.problems)
    assert "GitHub marks release 3.2.0 as latest, but latest names 3.0.0." in status.problems
