"""Run pipeline steps concurrently (``core.together``) and report every failure in one error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar, cast

from ..core.errors import CheckFailed, MetaboostCiError
from ..core.together import settle

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
    names = [name for name, _ in steps]
    results, failures = await settle([step for _, step in steps], Exception)
    if failures:
        problems = [f"{names[i]}: {describe_failure(exc)}" for i, exc in failures.items()]
        raise CheckFailed(f"{what} failed.", problems)
    return cast(list[T], results)
