"""Benchmark: the requests ``metaboost-ci status`` makes for six apps.

Reports figures, asserts no timing. Run: ``.venv/bin/pytest -m benchmark -s tests/benchmarks``.

The incident's world (two releases, latest on the newer, staging on a newer
build), then the same with 300 more tags on every app and 300 more Git tags.
Registry requests are counted in the registry's own access log, GitHub
requests at the emulator.
"""

from __future__ import annotations

import time

import pytest

from tests.support.release import ReleaseWorld
from tests.test_status_requests import add_tags, incident_world, status_requests


@pytest.mark.benchmark
async def test_status_requests_for_six_apps(world: ReleaseWorld) -> None:
    await incident_world(world)
    print()
    for extra in (0, 300):
        if extra:
            add_tags(world, extra)
        started = time.perf_counter()
        registry, github = await status_requests(world)
        seconds = time.perf_counter() - started
        print(
            f"status, six apps, {extra} extra tags per app: "
            f"{sum(registry.values())} registry requests ({dict(sorted(registry.items()))}), "
            f"{sum(github.values())} GitHub requests ({dict(sorted(github.items()))}), "
            f"{seconds:.2f} s"
        )
