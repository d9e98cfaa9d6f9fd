"""``status`` costs the same number of requests however many tags the apps have.

Counted where they arrive: the registry's own access log and the GitHub
emulator's request log. The README states the figures for six apps.
"""

from __future__ import annotations

from collections import Counter

from metaboost_ci.core.flows import read_status
from tests.support.release import APPS, ReleaseWorld
from tests.test_flows_rollback import NEWER, released, two_releases

# Per app: one tag list, one GET per floating tag plus its config, one HEAD per
# candidate version (the label's, the highest release); see core.flows.status.
REGISTRY_BUDGET = 8 * len(APPS) + 1


async def status_requests(world: ReleaseWorld) -> tuple[Counter[str], Counter[str]]:
    """(registry requests, GitHub requests) of one ``read_status``, by kind."""
    seen = len(world.origin.access_log())
    asked = len(world.github.requests)
    async with world.context() as ctx:
        status = await read_status(ctx)
    assert status.consistent, status.problems
    registry = Counter(f"{e.method} {kind(e.path)}" for e in world.origin.access_log()[seen:])
    github = Counter(f"{r.method} {kind(r.path)}" for r in world.github.requests[asked:])
    return registry, github


def kind(path: str) -> str:
    for part in ("tags/list", "manifests", "blobs", "matching-refs", "git/ref", "releases"):
        if part in path:
            return part
    return path


async def incident_world(world: ReleaseWorld) -> None:
    """Two releases, latest on the newer; staging on a newer build (a promotion pending)."""
    await two_releases(world)
    pending = released(world, NEWER, seed=340)
    for app in APPS:
        world.retag(app, pending.build[app], "staging")


def add_tags(world: ReleaseWorld, extra: int) -> None:
    """``extra`` more image tags on every app (older staging builds), as many Git tags."""
    commit = world.commit("an old line")
    for n in range(extra):
        world.github.repos.remote_tag_create(f"1.0.0-staging.{n}", commit)
    for app in APPS:
        image = world.push_build("1.0.0-staging.0", commit, apps=(app,), layers=1)[app]
        for n in range(1, extra):
            world.retag(app, image, f"1.0.0-staging.{n}")


async def test_status_requests_do_not_grow_with_the_tags(world: ReleaseWorld) -> None:
    await incident_world(world)
    few = await status_requests(world)
    add_tags(world, 60)
    many = await status_requests(world)
    assert many == few
    assert sum(few[0].values()) <= REGISTRY_BUDGET, few[0]
    assert sum(few[1].values()) <= 5, few[1]
