"""net.retry.Tries: the one retry loop's bookkeeping (HTTP, GitHub's create, git push)."""

from __future__ import annotations

import pytest

from metaboost_ci.core.net import Tries
from tests.support.fake_time import FakeTime


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


async def test_again_waits_saying_so_until_the_attempts_are_spent(fake_time: FakeTime) -> None:
    said: list[str] = []
    tries = Tries(fake_time.policy(attempts=3, base_delay=1.0, max_delay=1.0), said.append)
    outcomes: list[bool] = []
    for _ in range(3):
        tries.start()
        outcomes.append(await tries.again("GET x answered 503"))
    # Two retries after three attempts' failures, then no more.
    assert outcomes == [True, True, False]
    assert len(fake_time.sleeps) == 2
    assert [line.split(" in ")[0] for line in said] == [
        "GET x answered 503; retry 1 of 2",
        "GET x answered 503; retry 2 of 2",
    ]


async def test_a_wait_ending_past_the_total_is_not_taken(fake_time: FakeTime) -> None:
    tries = Tries(fake_time.policy(attempts=10, total_seconds=5.0))
    tries.start()
    assert tries.wait_for(asked=5.0) == 5.0  # ends at exactly the bound
    fake_time.now += 1.0
    assert tries.wait_for(asked=4.5) is None
    assert tries.wait_for(asked=4.0) == 4.0


async def test_silent_without_a_reporter(fake_time: FakeTime) -> None:
    tries = Tries(fake_time.policy(attempts=2, base_delay=0.5, max_delay=0.5))
    tries.start()
    assert await tries.again("nobody hears this")
    assert len(fake_time.sleeps) == 1
