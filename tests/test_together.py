"""core.together.settle: the one fan-out primitive (per_app, run_together, run_all use it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from metaboost_ci.core.errors import InputError, RemoteError
from metaboost_ci.core.together import gather, settle


def after(
    seconds: float, value: int, fail: Exception | None = None
) -> Callable[[], Awaitable[int]]:
    async def step() -> int:
        await anyio.sleep(seconds)
        if fail is not None:
            raise fail
        return value

    return step


async def test_every_step_finishes_and_failures_come_by_position() -> None:
    finished: list[int] = []

    def noting(step: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            value = await step()
            finished.append(value)
            return value

        return run

    late = RemoteError("late")
    early = InputError("early")
    results, failures = await settle(
        [after(0.05, 1, late), after(0.0, 2, early), noting(after(0.1, 3))], Exception
    )
    # The slowest step still ran to its end although two failed before it.
    assert finished == [3]
    assert results == [None, None, 3]
    # In the steps' order, not the order they failed in.
    assert list(failures.items()) == [(0, late), (1, early)]


async def test_a_failure_of_another_type_propagates() -> None:
    with pytest.raises(ExceptionGroup) as raised:
        await settle([after(0.0, 1, ValueError("boom")), after(0.0, 2)], RemoteError)
    assert isinstance(raised.value.exceptions[0], ValueError)


async def test_limit_caps_the_steps_running_at_once() -> None:
    running = 0
    most = 0

    def step(value: int) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await anyio.sleep(0.01)
            running -= 1
            return value

        return run

    results, failures = await settle([step(n) for n in range(7)], Exception, limit=2)
    assert (results, failures, most) == (list(range(7)), {}, 2)


async def test_gather_returns_results_in_order_or_raises_the_first_failure_itself() -> None:
    assert await gather([after(0.02, 1), after(0.0, 2)], RemoteError) == [1, 2]
    late = RemoteError("late")
    # The earlier step fails later in time: its failure is the one raised, not a group.
    with pytest.raises(RemoteError) as raised:
        await gather([after(0.05, 1, late), after(0.0, 2, RemoteError("early"))], RemoteError)
    assert raised.value is late
