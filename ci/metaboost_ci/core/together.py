"""Run independent awaitables at once, each to its end: the one fan-out primitive.

An anyio task group cancels the others at the first failure and raises an
``ExceptionGroup``. Here every step finishes (a half-sent write is worse than a
finished one) and the caller gets each result and each failure by position, to
raise or report as suits it: ``gather`` (under ``flows.context.run_together``)
raises the first failure in order, ``per_app`` also reports the others,
``engine.concurrent.run_all`` lists them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar, cast

import anyio

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


async def settle(
    steps: Sequence[Callable[[], Awaitable[T]]],
    catch: type[E],
    *,
    limit: int | None = None,
) -> tuple[list[T | None], dict[int, E]]:
    """Await every step concurrently (at most ``limit`` at a time).

    Returns the results in the steps' order (None where a step failed) and the
    failures of type ``catch`` by position; any other exception propagates.
    """
    results: list[T | None] = [None] * len(steps)
    failures: dict[int, E] = {}
    limiter = anyio.CapacityLimiter(limit) if limit else None

    async def run(index: int) -> None:
        try:
            if limiter is None:
                results[index] = await steps[index]()
            else:
                async with limiter:
                    results[index] = await steps[index]()
        except catch as exc:
            failures[index] = exc

    async with anyio.create_task_group() as group:
        for index in range(len(steps)):
            group.start_soon(run, index)
    return results, dict(sorted(failures.items()))


async def gather(
    steps: Sequence[Callable[[], Awaitable[T]]],
    catch: type[BaseException],
    *,
    limit: int | None = None,
) -> list[T]:
    """``settle``, then the first failure (in the steps' order) raised as itself."""
    results, failures = await settle(steps, catch, limit=limit)
    if failures:
        raise next(iter(failures.values()))
    return cast(list[T], results)
