"""reserve and discover, with both tag stores, a real registry and real Git."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metaboost_ci.core.errors import (
    AuthenticationRequired,
    CheckFailed,
    InputError,
    PermissionDenied,
    UnexpectedStatus,
    VersionError,
)
from metaboost_ci.core.flows import discover, reserve
from metaboost_ci.core.progress import RecordingProgress
from tests.support.registry_process import Registry
from tests.support.release import APPS, ReleaseWorld, StatusRegistry, WorldFactory

BASE = "2.0.0"


async def test_reserve_uncontended_creates_one_tag(any_world: ReleaseWorld) -> None:
    commit = any_world.commit()
    any_world.github.repos.remote_tag_create(f"{BASE}-staging.0", any_world.commit())
    async with any_world.context() as ctx:
        reservation = await reserve(ctx, commit=commit, base=BASE)
    assert reservation.version == f"{BASE}-staging.1"
    assert (reservation.action, reservation.attempts, reservation.hint) == ("created", 1, 1)
    assert any_world.git_tags()[reservation.version] == commit
    if any_world.store == "github":
        assert len(any_world.github.requests_for("POST", "/git/refs")) == 1


async def test_reserve_skips_numbers_the_registry_already_has(any_world: ReleaseWorld) -> None:
    # Images of staging.4 exist although no Git tag does (deleted by hand):
    # reusing 4 would overwrite an immutable image tag.
    any_world.push_build(f"{BASE}-staging.4", None, apps=(APPS[2],))
    commit = any_world.commit()
    async with any_world.context() as ctx:
        reservation = await reserve(ctx, commit=commit, base=BASE)
    assert reservation.version == f"{BASE}-staging.5"
    assert reservation.registry_hint == "read"


async def test_reserve_retries_past_taken_numbers(world: ReleaseWorld) -> None:
    """The hint is only a hint: a tag created after it was read is found by the create."""
    commit = world.commit()
    other = world.commit()
    async with world.context() as ctx:
        original = ctx.tags.list_tags

        async def stale_listing(prefix: str) -> dict[str, str]:
            found = await original(prefix)
            # Somebody reserves 0 and 1 right after our listing.
            for n in (0, 1):
                world.github.repos.remote_tag_create(f"{BASE}-staging.{n}", other)
            return found

        ctx.tags.list_tags = stale_listing  # type: ignore[method-assign]
        reservation = await reserve(ctx, commit=commit, base=BASE)
    assert reservation.version == f"{BASE}-staging.2"
    assert reservation.taken == (0, 1)
    assert reservation.attempts == 3
    tags = world.git_tags()
    assert tags[f"{BASE}-staging.0"] == other
    assert tags[f"{BASE}-staging.2"] == commit


async def test_override_creates_exactly_that_tag(any_world: ReleaseWorld) -> None:
    commit = any_world.commit()
    async with any_world.context() as ctx:
        reservation = await reserve(ctx, commit=commit, base=BASE, override=f"{BASE}-staging.9")
    assert (reservation.version, reservation.action) == (f"{BASE}-staging.9", "created")
    assert any_world.git_tags() == {f"{BASE}-staging.9": commit}


async def test_override_accepts_an_annotated_tag_at_the_same_commit(
    any_world: ReleaseWorld,
) -> None:
    commit = any_world.commit()
    tag_object = any_world.github.annotated_tag(f"{BASE}-staging.3", commit)
    assert tag_object != commit
    async with any_world.context() as ctx:
        reservation = await reserve(ctx, commit=commit, base=BASE, override=f"{BASE}-staging.3")
    assert reservation.action == "exists"
    assert any_world.github.tag_target(f"{BASE}-staging.3") == tag_object


async def test_override_at_another_commit_fails_and_writes_nothing(
    any_world: ReleaseWorld,
) -> None:
    commit = any_world.commit()
    other = any_world.commit()
    any_world.github.annotated_tag(f"{BASE}-staging.3", other)
    before = any_world.snapshot()
    async with any_world.context() as ctx:
        with pytest.raises(CheckFailed) as failure:
            await reserve(ctx, commit=commit, base=BASE, override=f"{BASE}-staging.3")
    assert other in str(failure.value)
    assert failure.value.exit_code == 1
    assert any_world.snapshot().git_tags == before.git_tags


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ("2.0.0-rc.1", "exactly staging.N"),
        ("2.0.0-staging.01", "not valid SemVer"),
        ("2.0.0-staging.1+build", "build metadata"),
        ("1.9.0-staging.1", "package.json says 2.0.0"),
        ("banana", "not valid SemVer"),
    ],
)
async def test_bad_overrides_fail_before_any_request(
    world: ReleaseWorld, override: str, why: str
) -> None:
    commit = world.commit()
    requests = len(world.github.requests)
    async with world.context() as ctx:
        with pytest.raises(VersionError) as failure:
            await reserve(ctx, commit=commit, base=BASE, override=override)
    assert why in str(failure.value)
    assert failure.value.exit_code == 2
    assert len(world.github.requests) == requests


async def test_dry_run_decides_the_same_and_writes_nothing(any_world: ReleaseWorld) -> None:
    any_world.github.repos.remote_tag_create(f"{BASE}-staging.0", any_world.commit())
    commit = any_world.commit()
    before = any_world.snapshot()
    async with any_world.context() as ctx:
        planned = await reserve(ctx, commit=commit, base=BASE, dry_run=True)
        assert any_world.snapshot() == before
        real = await reserve(ctx, commit=commit, base=BASE)
    assert planned.action == "planned"
    assert planned.version == real.version


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("store", ["github", "git"])
async def test_a_commit_the_remote_lacks_is_refused(
    store: str, dry_run: bool, world_factory: WorldFactory
) -> None:
    world = world_factory(store)
    missing = "0123456789abcdef0123456789abcdef01234567"
    before = world.snapshot()
    async with world.context() as ctx:
        with pytest.raises(InputError) as failure:
            await reserve(ctx, commit=missing, base=BASE, dry_run=dry_run)
    assert missing in str(failure.value)
    assert world.snapshot().git_tags == before.git_tags


# -- discover: the seed's status semantics ----------------------------------------


async def test_discover_reads_every_app_and_treats_404_as_first_publish(
    world: ReleaseWorld,
) -> None:
    world.push_build(f"{BASE}-staging.2", None, apps=APPS[:2])
    world.push_build(f"{BASE}-staging.7", None, apps=APPS[1:2])
    world.push_build("1.0.0-staging.9", None, apps=APPS[:1])
    progress = RecordingProgress()
    async with world.context(progress=progress) as ctx:
        found = await discover(ctx, base=BASE)
    assert found.apps[APPS[0]].staging == (2,)
    assert found.apps[APPS[1]].staging == (2, 7)
    assert found.first_publish == list(APPS[2:])
    assert found.next_n == 8
    assert any("First publish" in line for line in progress.lines)


async def test_discover_on_an_empty_registry_starts_at_zero(world: ReleaseWorld) -> None:
    async with world.context() as ctx:
        found = await discover(ctx, base=BASE)
    assert found.highest_n is None
    assert found.next_n == 0
    assert found.first_publish == list(APPS)


async def test_discover_401_fails_with_guidance(
    world_factory: WorldFactory, token_registry: Registry
) -> None:
    world = world_factory(origin=token_registry)
    async with world.context(registry_token=None, registry_username=None) as ctx:
        with pytest.raises(AuthenticationRequired) as failure:
            await discover(ctx, base=BASE)
    assert "GHCR_REGISTRY_TOKEN" in str(failure.value)


async def test_reserve_without_a_readable_registry_still_reserves(
    world_factory: WorldFactory, token_registry: Registry
) -> None:
    world = world_factory(origin=token_registry)
    commit = world.commit()
    async with world.context(registry_token=None, registry_username=None) as ctx:
        reservation = await reserve(ctx, commit=commit, base=BASE)
    assert reservation.version == f"{BASE}-staging.0"
    assert reservation.registry_hint == "unreadable (401)"


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (403, "DENIED", PermissionDenied),
        (400, "UNSUPPORTED", UnexpectedStatus),
        (418, "TEAPOT", UnexpectedStatus),
    ],
)
async def test_discover_fails_fast_on_403_and_unexpected_statuses(
    world: ReleaseWorld,
    status_registry: Callable[..., StatusRegistry],
    status: int,
    code: str,
    error: type[Exception],
) -> None:
    stub = status_registry(status, code, "no")
    async with world.context(registry_url=stub.url) as ctx:
        with pytest.raises(error) as failure:
            await discover(ctx, base=BASE)
    # The API root, then one request per app: nothing retried.
    assert stub.requests[0] == ("GET", "/v2/")
    assert len(stub.requests) == 1 + len(APPS)
    if status == 403:
        assert "GHCR_REGISTRY_TOKEN" in str(failure.value)
