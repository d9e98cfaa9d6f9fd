"""The time bound of a whole command.

Each request is bounded (``RetryPolicy``: a try, then all tries), but a command
makes many; a registry slow on every one of them could still keep a command
busy for an hour. So a command as a whole gets ``METABOOST_CI_DEADLINE``
seconds (default 30 minutes, far above a slow promotion's few minutes); past
it, it stops and says so. Every write is idempotent or guarded, so running the
command again converges.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import anyio

from .errors import DeadlineExceeded, InputError

T = TypeVar("T")

DEADLINE_ENV = "METABOOST_CI_DEADLINE"
DEFAULT_DEADLINE = 1800.0


def command_deadline(env: Mapping[str, str]) -> float:
    """Seconds a command may run: ``METABOOST_CI_DEADLINE``, else the default."""
    text = env.get(DEADLINE_ENV, "").strip()
    if not text:
        return DEFAULT_DEADLINE
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(
            f"{DEADLINE_ENV}={text!r} is not a positive number of seconds.",
            fix=f"Set {DEADLINE_ENV} to seconds, e.g. 600, or unset it "
            f"(default {DEFAULT_DEADLINE:.0f}).",
        )
    return seconds


async def within_deadline(seconds: float, what: str, work: Callable[[], Awaitable[T]]) -> T:
    """``await work()``, stopped after ``seconds`` with ``DeadlineExceeded``."""
    with anyio.move_on_after(seconds):
        return await work()
    raise DeadlineExceeded(
        f"{what} did not finish within {seconds:g} s ({DEADLINE_ENV}); it was stopped there.",
        fix="Run it again: every write is idempotent, so it picks up where this one stopped "
        f"(the progress lines show what was slow); raise {DEADLINE_ENV} for a slow registry.",
    )
