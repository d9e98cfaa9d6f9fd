"""Eight ``metaboost-ci reserve`` processes at once on one base, with each store:
eight distinct, contiguous N, each Git tag at its own process's commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.release import WorldFactory, reserve_concurrently

BASE = "6.0.0"
PROCESSES = 8


@pytest.mark.parametrize("store", ["github", "git"])
def test_eight_processes_get_eight_contiguous_numbers(
    store: str, world_factory: WorldFactory, tmp_path: Path
) -> None:
    world = world_factory(store)
    reservations = reserve_concurrently(world, tmp_path, base=BASE, processes=PROCESSES)
    numbers = sorted(int(str(r["n"])) for r in reservations)
    assert numbers == list(range(PROCESSES))
    tags = world.git_tags()
    assert len(tags) == PROCESSES
    for reservation in reservations:
        assert tags[str(reservation["version"])] == reservation["commit"]
    attempts = sum(int(str(r["attempts"])) for r in reservations)
    # At least one create each; each loss costs one more.
    assert attempts >= PROCESSES
    if store == "github":
        assert len(world.github.requests_for("POST", "/git/refs")) == attempts
