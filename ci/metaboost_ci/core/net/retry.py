"""When and how long to wait before trying again: ``RetryPolicy`` and ``Tries``.

Backoff is exponential with full jitter (AWS's "Exponential Backoff And
Jitter"), capped per wait and bounded in total, so a flapping remote can slow a
release down but never hang it. ``Tries`` is the one retry loop's bookkeeping:
``HttpClient.request``, GitHub's create-then-read-back and the Git tag store's
push each decide *whether* a failure may be retried (a POST only when nothing
was made); ``Tries`` says *when*, within the policy, and says so on progress.
(stamina was considered: its hooks would carry neither the POST rule nor these
lines, so it would add a dependency without removing this code.)
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import httpx

# Statuses that say "not now", never "no".
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Of those, the ones where the server promises it did not act on the request,
# so even a non-idempotent request (POST) may be sent again.
NOT_PROCESSED_STATUSES = frozenset({408, 429})


async def _sleep(seconds: float) -> None:
    await anyio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often, how long, and in total how long to keep trying."""

    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 8.0
    # The whole request, waits included, gives up after this many seconds.
    total_seconds: float = 180.0
    # One try, from sending to the last byte of the answer: httpx's timeouts
    # bound each read, so a server sending a byte every few seconds would never
    # trip them. A try cut off here is retried like a lost connection.
    attempt_seconds: float = 60.0
    # While a try is still waiting after this long, say so (then again as often).
    heartbeat_seconds: float = 10.0
    # The longest single wait a server may ask for (Retry-After, rate-limit
    # reset) before we fail instead, saying when to try again.
    max_server_wait: float = 90.0
    sleep: Callable[[float], Awaitable[None]] = field(default=_sleep, compare=False)
    # What the total bound is measured with; tests pair a fake clock with a fake sleep.
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def allows_retry(self, attempt: int, started: float, wait: float) -> bool:
        """May failed ``attempt`` be followed by another after ``wait`` seconds?

        Only with attempts left and the wait ending within ``total_seconds`` of
        ``started`` (read from ``clock``): for callers with their own retry loop.
        """
        return attempt < self.attempts and self.clock() - started + wait <= self.total_seconds

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before retry number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


@dataclass
class Tries:
    """One operation's tries under ``policy``: counts them, waits between them, says so.

    ``say`` gets one line per wait (``... ; retry 2 of 5 in 1.4 s``), so a long
    silence is never a mystery; None keeps the waits silent.
    """

    policy: RetryPolicy
    say: Callable[[str], None] | None = None
    attempt: int = 0
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.policy.clock()

    def start(self) -> int:
        """Begin the next try; its number (1-based)."""
        self.attempt += 1
        return self.attempt

    def wait_for(self, asked: float | None = None) -> float | None:
        """Seconds before the next try (``asked`` by the server, else backoff), or None
        when the tries are spent: no attempt left, or the wait would end past the total."""
        wait = asked if asked is not None else self.policy.backoff(self.attempt)
        return wait if self.policy.allows_retry(self.attempt, self.started, wait) else None

    def line(self, what: str, wait: float, note: str = "") -> str:
        """``what``, then which retry comes and when."""
        retries = self.policy.attempts - 1
        return f"{what}; retry {self.attempt} of {retries} in {wait:.1f} s{note}"

    async def pause(self, wait: float, line: str) -> None:
        """Say ``line``, then wait ``wait`` seconds (on the policy's sleep)."""
        if self.say is not None:
            self.say(line)
        await self.policy.sleep(wait)

    async def again(self, what: str) -> bool:
        """After a failed try: wait with backoff, saying ``what`` failed, and return
        True; False (at once) when the tries are spent."""
        wait = self.wait_for()
        if wait is None:
            return False
        await self.pause(wait, self.line(what, wait))
        return True


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """Parse ``Retry-After`` as delta-seconds or an HTTP date; None when absent or bad."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    # Delta-seconds; hosted registries send fractions ("0.5"), which RFC 9110 does not foresee.
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)
