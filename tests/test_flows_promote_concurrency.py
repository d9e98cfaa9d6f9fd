"""Two promotions of different versions at once (a laptop racing a CI run).

Both plan before either writes, so both believe their version is the newest
and move ``latest``; without the re-read after the writes, ``latest`` ended
mixed across apps or on the older release. Each trial runs the two promotions
concurrently against a fresh real docker-registry (and the GitHub emulator),
the start order alternating, and checks the invariant: ``latest`` names the
highest release on every app, and GitHub's latest release is that one too.
"""

from __future__ import annotations

import anyio

from metaboost_ci.core.flows import promote
from metaboost_ci.core.flows.promote import Promotion
from metaboost_ci.core.progress import RecordingProgress
from tests.support.registry import RegistryFactory
from tests.support.release import ReleaseWorld, WorldFactory

TRIALS = 20
LOW, HIGH = "1.2.0", "1.3.0"


async def race(
    world: ReleaseWorld,
    commits: dict[str, str],
    progress: dict[str, RecordingProgress],
    order: tuple[str, ...],
) -> dict[str, Promotion]:
    """Promote every base in ``commits`` at once, each with its own clients."""
    results: dict[str, Promotion] = {}

    async def run(base: str) -> None:
        async with world.context(progress=progress[base]) as ctx:
            results[base] = await promote(ctx, commit=commits[base], base=base, notes=base)

    async with anyio.create_task_group() as group:
        for base in order:
            group.start_soon(run, base)
    return results


async def test_two_promotions_at_once_leave_latest_on_the_highest_release(
    registry_factory: RegistryFactory, world_factory: WorldFactory
) -> None:
    repairs = 0
    for trial in range(TRIALS):
        world = world_factory(origin=registry_factory())
        commits = {LOW: world.commit(LOW), HIGH: world.commit(HIGH)}
        builds = {}
        for number, (base, commit) in enumerate(commits.items()):
            world.github.repos.remote_tag_create(f"{base}-staging.0", commit)
            builds[base] = world.push_build(f"{base}-staging.0", commit, layers=1, seed=number)
        progress = {base: RecordingProgress() for base in commits}
        order = (LOW, HIGH) if trial % 2 == 0 else (HIGH, LOW)
        results = await race(world, commits, progress, order)

        expected = {app: image.digest for app, image in builds[HIGH].items()}
        assert world.digests("latest") == expected, (trial, progress[LOW].lines)
        assert world.digests(HIGH) == expected
        assert world.digests(LOW) == {app: image.digest for app, image in builds[LOW].items()}
        assert results[HIGH].latest_is_ours
        latest = world.github.releases[world.github.latest_release_id or -1]
        assert latest["tag_name"] == HIGH, trial
        for base, result in results.items():
            check = result.latest_check
            if check is not None and check.repaired:
                repairs += 1
                said = [line for line in progress[base].lines if "highest release" in line]
                assert said, progress[base].lines  # a repair is never silent
                assert any(note in said for note in result.notes)
    # The trials did race: some promotion found latest moved and put it back.
    assert repairs >= 1
