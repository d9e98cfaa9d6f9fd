"""GitHub's rate limits, read from its headers, as an ``HttpClient`` rate-limit hook.

Primary limit (403 or 429 with ``x-ratelimit-remaining: 0``): wait until
``x-ratelimit-reset`` when that is soon, else fail saying when it resets.
Secondary limit (403 or 429 with ``retry-after``, or a "secondary rate limit"
message): honour ``retry-after``, else wait at least a minute, doubling on
each further hit, as GitHub's REST docs ask. Every wait is bounded by the
policy's ``max_server_wait``; the HTTP client bounds the total.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from ..errors import RateLimited
from ..net.describe import display_url
from ..net.retry import RetryPolicy, retry_after_seconds

RATE_LIMIT_STATUSES = (403, 429)
# The reset time is a whole epoch second and clocks drift: a second more
# avoids a retry that lands just before the window reopens.
RESET_MARGIN = 1.0
SECONDARY_MIN_WAIT = 60.0
# A secondary limit this long after the previous one starts the backoff afresh.
SECONDARY_QUIET_PERIOD = 600.0


def primary_reset(response: httpx.Response) -> float | None:
    """The epoch second the primary limit resets, when this response is one."""
    if response.status_code not in RATE_LIMIT_STATUSES:
        return None
    if response.headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    try:
        return float(response.headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return time.time() + SECONDARY_MIN_WAIT  # no usable reset: treat it like a secondary


def is_secondary_limit(response: httpx.Response) -> bool:
    """True for a 403/429 that is a secondary (abuse) limit rather than a refusal."""
    if response.status_code not in RATE_LIMIT_STATUSES or primary_reset(response) is not None:
        return False
    if response.status_code == 429 or "retry-after" in response.headers:
        return True
    return "secondary rate limit" in response.text.lower()


def utc_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class GitHubRateLimit:
    """Callable hook: seconds to wait before retrying ``response``, or None."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.time) -> None:
        self._policy = policy
        self._clock = clock
        self._secondary_hits = 0
        self._last_secondary = float("-inf")

    def __call__(self, response: httpx.Response) -> float | None:
        reset = primary_reset(response)
        if reset is not None:
            return self._primary(response, reset)
        if is_secondary_limit(response):
            return self._secondary(response)
        return None

    def _primary(self, response: httpx.Response, reset: float) -> float:
        now = self._clock()
        wait = max(0.0, reset - now) + RESET_MARGIN
        if wait > self._policy.max_server_wait:
            resource = response.headers.get("x-ratelimit-resource", "core")
            raise self._give_up(
                response,
                f"GitHub's API rate limit ({resource}) is used up; it resets at "
                f"{utc_time(reset)}, in {wait:.0f}s.",
                f"Run again after {utc_time(reset)}, or use a token with a higher limit "
                f"(we wait at most {self._policy.max_server_wait:.0f}s).",
            )
        return wait

    def _secondary(self, response: httpx.Response) -> float:
        now = time.monotonic()
        if now - self._last_secondary > SECONDARY_QUIET_PERIOD:
            self._secondary_hits = 0
        self._secondary_hits += 1
        self._last_secondary = now
        asked = retry_after_seconds(response)
        if asked is None:
            asked = SECONDARY_MIN_WAIT * 2 ** (self._secondary_hits - 1)
        if asked > self._policy.max_server_wait:
            retry_at = utc_time(self._clock() + asked)
            raise self._give_up(
                response,
                f"GitHub's secondary rate limit asks us to wait {asked:.0f}s (until {retry_at}).",
                f"Run again after {retry_at}; avoid running many release jobs at once.",
            )
        return asked

    @staticmethod
    def _give_up(response: httpx.Response, text: str, fix: str) -> RateLimited:
        request = response.request
        url = display_url(request.url)
        return RateLimited(
            f"GitHub: {request.method} {url} answered {response.status_code}: {text}",
            status=response.status_code,
            method=request.method,
            url=url,
            fix=fix,
        )
