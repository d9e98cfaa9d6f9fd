"""A clock that only moves when the code under test sleeps (retry policies without waiting)."""

from __future__ import annotations

from dataclasses import dataclass, field

from metaboost_ci.core.net import RetryPolicy


@dataclass
class FakeTime:
    """Pair ``clock`` and ``sleep`` in a ``RetryPolicy``: sleeps are recorded, not slept."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list[float])

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def policy(self, **options: float) -> RetryPolicy:
        return RetryPolicy(sleep=self.sleep, clock=self.clock, **options)  # type: ignore[arg-type]
