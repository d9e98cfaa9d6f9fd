"""Run pipeline steps concurrently and report every failure in one error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

from ..core.errors import CheckFailed, MetaboostCiError

T = TypeVar("T")


def describe_failure(exc: Exception) -> str:
    """A failure in one line of a list: our own errors say enough, others name their type."""
    return str(exc) if isinstance(exc, MetaboostCiError) else f"{type(exc).__name__}: {exc}"


async def run_all(what: str, steps: Sequence[tuple[str, Callable[[], Awaitable[T]]]]) -> list[T]:
    """Await every ``(name, step)`` concurrently; results in the order given.

    Every step runs to its end even when another fails, so one error can list
    every problem (``CheckFailed`` naming each step), instead of an exception
    group or only the first failure.
    """
    results: dict[int, T] = {}
    problems: dict[int, str] = {}

    async def run(index: int, name: str, step: Callable[[], Awaitable[T]]) -> None:
        try:
            results[index] = await step()
        except Exception as exc:  # reported with the others below
            problems[index] = f"{name}: {describe_failure(exc)}"

    async with anyio.create_task_group() as group:
        for index, (name, step) in enumerate(steps):
            group.start_soon(run, index, name, step)
    if problems:
        raise CheckFailed(f"{what} failed.", [problems[i] for i in sorted(problems)])
    return [results[i] for i in range(len(steps))]
