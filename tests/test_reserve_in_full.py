"""``reserve``: the whole Reservation, for each way it can go, override or not.

``reserve --json`` prints ``Reservation.to_dict()`` and the workflow reads it,
so each case asserts every field, not only the version.
"""

from __future__ import annotations

from typing import Any

import pytest

from metaboost_ci.core.errors import CheckFailed, RemoteError
from metaboost_ci.core.flows import reserve
from metaboost_ci.core.progress import RecordingProgress
from tests.support.release import ReleaseWorld

BASE = "3.1.0"


def expected(world_store: str, commit: str, version: str, **rest: Any) -> dict[str, Any]:
    base, n = version.split("-staging.")
    return {
        "version": version,
        "base": base,
        "n": int(n),
        "commit": commit,
        "hint": int(n),
        "registry_hint": "not read",
        "store": world_store,
        "taken": [],
        "override": True,
        **rest,
    }


@pytest.mark.parametrize(
    ("tag_first", "dry_run", "action", "attempts", "said"),
    [
        pytest.param(False, False, "created", 1, "Reserved {tag} (override) at {c}.", id="create"),
        pytest.param(
            True,
            False,
            "exists",
            1,
            "Git tag {tag} already points at {c}: reservation re-used.",
            id="re-run",
        ),
        pytest.param(False, True, "planned", 0, None, id="dry-run"),
        pytest.param(True, True, "exists", 0, None, id="dry-run-of-a-re-run"),
    ],
)
async def test_an_override_reservation_in_full(
    world: ReleaseWorld,
    tag_first: bool,
    dry_run: bool,
    action: str,
    attempts: int,
    said: str | None,
) -> None:
    commit = world.commit()
    tag = f"{BASE}-staging.7"
    if tag_first:
        world.github.repos.remote_tag_create(tag, commit)
    progress = RecordingProgress()
    async with world.context(progress=progress) as ctx:
        done = await reserve(ctx, commit=commit, base=BASE, override=tag, dry_run=dry_run)
        store = ctx.tags.description
    assert done.to_dict() == expected(
        store, commit, tag, action=action, attempts=attempts, dry_run=dry_run
    )
    if said is not None:
        assert said.format(tag=tag, c=commit[:12]) in progress.lines
    # A dry run writes nothing; otherwise the tag is at the commit.
    assert world.git_tags() == ({tag: commit} if tag_first or not dry_run else {})


async def test_an_override_of_another_base_when_allowed(world: ReleaseWorld) -> None:
    commit = world.commit()
    async with world.context() as ctx:
        done = await reserve(
            ctx, commit=commit, base=BASE, override="4.0.0-staging.2", allow_other_base=True
        )
        store = ctx.tags.description
    assert done.to_dict() == expected(
        store, commit, "4.0.0-staging.2", action="created", attempts=1, dry_run=False
    )
    assert world.git_tags() == {"4.0.0-staging.2": commit}


async def test_a_dry_run_override_at_another_commit_is_refused(world: ReleaseWorld) -> None:
    commit, other = world.commit("ours"), world.commit("other")
    tag = f"{BASE}-staging.4"
    world.github.repos.remote_tag_create(tag, other)
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as caught:
            await reserve(ctx, commit=commit, base=BASE, override=tag, dry_run=True)
    assert caught.value.message == (
        f"Git tag {tag} already exists at commit {other}, not at {commit}."
    )
    assert caught.value.fix == "Pick an unused N for --version-override (tags are never moved)."


@pytest.mark.parametrize("dry_run", [False, True], ids=["create", "dry-run"])
async def test_a_reservation_in_full(world: ReleaseWorld, dry_run: bool) -> None:
    commit = world.commit()
    for n in (0, 1):
        world.github.repos.remote_tag_create(f"{BASE}-staging.{n}", world.commit())
    progress = RecordingProgress()
    async with world.context(progress=progress) as ctx:
        done = await reserve(ctx, commit=commit, base=BASE, dry_run=dry_run)
        store = ctx.tags.description
    tag = f"{BASE}-staging.2"
    assert done.to_dict() == {
        "version": tag,
        "base": BASE,
        "n": 2,
        "commit": commit,
        "action": "planned" if dry_run else "created",
        "hint": 2,
        "registry_hint": "read",
        "store": store,
        "attempts": 0 if dry_run else 1,
        "taken": [],
        "override": False,
        "dry_run": dry_run,
    }
    said = (
        f"Dry run: would create Git tag {tag} at {commit[:12]}."
        if dry_run
        else f"Reserved {tag} at {commit[:12]} ({store})."
    )
    assert said in progress.lines
    assert (tag in world.git_tags()) is not dry_run


async def test_attempts_are_bounded_and_the_error_says_what_was_tried(
    world: ReleaseWorld,
) -> None:
    commit, other = world.commit("ours"), world.commit("other")
    for n in (0, 1, 2):
        world.github.repos.remote_tag_create(f"{BASE}-staging.{n}", other)
    async with world.context() as ctx:

        async def no_tags(prefix: str) -> dict[str, str]:
            return {}  # a store whose listing lags behind its creates

        ctx.tags.list_tags = no_tags  # type: ignore[method-assign]
        with pytest.raises(RemoteError) as caught:
            await reserve(ctx, commit=commit, base=BASE, registry_hint=False, max_attempts=2)
    assert caught.value.message == (
        f"Could not reserve a {BASE}-staging.N tag in 2 attempts (tried 0 to 1, all taken)."
    )
    assert caught.value.fix == (
        "Something is creating tags in a loop; check the repository's tags, then run again."
    )
    assert f"{BASE}-staging.3" not in world.git_tags()
