"""``HttpClient``: send, retry, classify, redact. The only network door.

Registry and GitHub clients both speak through one of these; each adds only
what is specific to it: a ``Hints`` function that turns an error response into
guidance, and optionally a ``RateLimit`` function that reads service-specific
rate-limit headers.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta

import anyio
import httpx

from ..errors import (
    AuthenticationRequired,
    HttpStatusError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ResponseTooLarge,
    TransportError,
    UnexpectedStatus,
)
from ..progress import Progress
from ..redact import redact
from .bounded import (
    DEFAULT_MAX_BODY,
    OverLimit,
    read_body,
    seconds_text,
    with_content,
    with_heartbeat,
)
from .describe import (
    display_url,
    error_code_and_detail,
    lasting_problem,
    short_problem,
    short_url,
    what_failed,
)
from .retry import (
    NOT_PROCESSED_STATUSES,
    RETRYABLE_STATUSES,
    RetryPolicy,
    Tries,
    retry_after_seconds,
)

# Guidance for an error response: the ``fix`` sentence, or None.
Hints = Callable[[httpx.Response], str | None]
# Seconds the server asks us to wait before retrying this response, or None
# when the response is not a rate limit. Raise ``RateLimited`` to give up.
RateLimit = Callable[[httpx.Response], float | None]

_ERROR_CLASSES: dict[int, type[HttpStatusError]] = {
    401: AuthenticationRequired,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimited,
}


def _default_rate_limit(response: httpx.Response) -> float | None:
    if response.status_code in (429, 503):
        return retry_after_seconds(response)
    return None


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for the process.

    Loading the CA bundle costs ~50 ms; httpx would do it again for every
    client, and a release run opens several (registry, GitHub).
    """
    return httpx.create_ssl_context()


class HttpClient:
    """An ``httpx.AsyncClient`` with retries, error classification and redaction."""

    def __init__(
        self,
        *,
        service: str,
        policy: RetryPolicy | None = None,
        hints: Hints | None = None,
        rate_limit: RateLimit | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.service = service
        self.policy = policy or RetryPolicy()
        # Where each retry wait is announced; None keeps retries silent.
        self.progress = progress
        self._hints = hints
        self._rate_limit = rate_limit or _default_rate_limit
        self._client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            verify=default_ssl_context(),
            follow_redirects=False,
            headers=dict(headers or {}),
        )
        # Every request put on the wire, retries included (benchmarks read it).
        self.requests_sent = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        json_body: object | None = None,
        expect: Collection[int] = (200,),
        idempotent: bool | None = None,
        follow_redirects: bool = False,
        max_bytes: int = DEFAULT_MAX_BODY,
    ) -> httpx.Response:
        """Send a request and return the response when its status is in ``expect``.

        The body is read as it arrives and never past ``max_bytes``: a longer
        answer raises ``ResponseTooLarge`` (a caller turns it into an error
        naming what it read). Error answers are read up to ``ERROR_BODY_BYTES``.
        Each try must be over within ``policy.attempt_seconds`` and the whole
        request within ``policy.total_seconds`` (real time); a try still
        waiting after ``policy.heartbeat_seconds`` is announced on ``progress``.

        Retryable failures are retried; anything else raises a classified
        ``HttpStatusError`` or ``TransportError``. A non-idempotent request
        (POST and PATCH by default) is retried only when the server promises it
        did not act on it (408, 429, connection never established): after any
        other failure the caller must read back and decide.
        """
        if idempotent is None:
            idempotent = method.upper() not in ("POST", "PATCH")
        body: bytes | None = content
        send_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            send_headers.setdefault("content-type", "application/json")
        policy = self.policy
        tries = Tries(policy, self.announce)
        # The policy's clock may be a test's fake; the deadline is real time.
        hard_stop = anyio.current_time() + policy.total_seconds
        while True:
            attempt = tries.start()
            wait: float | None
            seconds = max(0.0, min(policy.attempt_seconds, hard_stop - anyio.current_time()))
            try:
                self.requests_sent += 1
                request = self._client.build_request(
                    method,
                    url,
                    headers=send_headers,
                    content=body,
                )
                response = await self._attempt(
                    request, expect, max_bytes, follow_redirects, seconds
                )
            except (httpx.TransportError, TimeoutError) as exc:
                if isinstance(exc, httpx.TransportError):
                    lasting = lasting_problem(exc, url)
                    if lasting is not None:
                        problem, fix = lasting
                        raise self._transport_error(
                            method, url, problem, attempt, fix=fix
                        ) from None
                connect = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                late = isinstance(exc, TimeoutError)
                problem = f"no complete answer within {seconds:.1f} s" if late else what_failed(exc)
                wait = tries.wait_for()
                in_time = wait is not None and anyio.current_time() + wait < hard_stop
                if not (idempotent or connect) or wait is None or not in_time:
                    raise self._transport_error(method, url, problem, attempt) from None
                short = "gave no complete answer in time" if late else short_problem(exc)
                await tries.pause(wait, tries.line(f"{method} {short_url(url)} {short}", wait))
                continue

            if response.status_code in expect:
                return response
            server_wait = self._rate_limit(response)
            retryable = response.status_code in RETRYABLE_STATUSES or server_wait is not None
            if not idempotent and response.status_code not in NOT_PROCESSED_STATUSES:
                retryable = retryable and server_wait is not None and response.status_code != 503
            # A 403 the rate-limit hook recognised (GitHub) is a rate limit, not a refusal.
            limited = server_wait is not None and response.status_code == 403
            if not retryable or attempt >= policy.attempts:
                raise self._status_error(method, url, response, attempt, force_rate_limit=limited)
            if server_wait is not None and server_wait > policy.max_server_wait:
                raise self._status_error(
                    method, url, response, attempt, waited_out=server_wait, force_rate_limit=True
                )
            wait = tries.wait_for(server_wait)
            if wait is None:
                raise self._status_error(method, url, response, attempt, force_rate_limit=limited)
            status = response.status_code
            if server_wait is not None and (limited or status == 429):
                line = self._rate_limit_line(method, url, status, attempt, wait)
            else:
                asked = " as asked" if server_wait is not None else ""
                line = tries.line(f"{method} {short_url(url)} answered {status}", wait, asked)
            await tries.pause(wait, line)

    async def _attempt(
        self,
        request: httpx.Request,
        expect: Collection[int],
        max_bytes: int,
        follow_redirects: bool,
        seconds: float,
    ) -> httpx.Response:
        """One try, body included, within ``seconds``; announced while it waits."""

        async def send() -> httpx.Response:
            with anyio.fail_after(seconds):
                response = await self._client.send(
                    request, stream=True, follow_redirects=follow_redirects
                )
                try:
                    wanted = response.is_success and response.status_code in expect
                    content = await self._read(response, max_bytes if wanted else None)
                finally:
                    await response.aclose()
            return with_content(response, content)

        if self.progress is None or self.policy.heartbeat_seconds >= seconds:
            return await send()
        return await with_heartbeat(send, self.policy.heartbeat_seconds, self._waiting(request))

    def _waiting(self, request: httpx.Request) -> Callable[[float], None]:
        limit = self.policy.attempt_seconds

        def say(elapsed: float) -> None:
            self.announce(
                f"{request.method} {short_url(request.url)}: still waiting for the answer "
                f"after {seconds_text(elapsed)} s (a try gives up after {seconds_text(limit)} s)"
            )

        return say

    async def _read(self, response: httpx.Response, limit: int | None) -> bytes:
        try:
            return await read_body(response, limit)
        except OverLimit:
            assert limit is not None  # only a wanted answer has a limit to exceed
            request = response.request
            raise ResponseTooLarge(
                f"{self.service}: {request.method} {display_url(request.url)} answered with "
                f"more than {limit} bytes; reading stopped there.",
                limit=limit,
                fix="Check the URL: the answer is not what was asked for.",
            ) from None

    def _rate_limit_line(
        self, method: str, url: str | httpx.URL, status: int, attempt: int, wait: float
    ) -> str:
        # Wall-clock time, for the person: the policy's clock is monotonic.
        until = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%H:%M:%S")
        retries = self.policy.attempts - 1
        return (
            f"{self.service} rate limit: waiting {wait:.0f} s (until {until} UTC); "
            f"{method} {short_url(url)} answered {status}, retry {attempt} of {retries}"
        )

    def announce(self, line: str) -> None:
        """Say ``line`` on the progress reporter, if any (retry waits, slow answers).

        ``GET registry.example/v2/o/r/api/manifests/1.2.0 answered 503; retry 2 of 5 in 1.4 s``:
        callers with their own retry loop (GitHub's read-back after a POST) use it too.
        """
        if self.progress is not None:
            # The URL is already shown without userinfo or query; a registered
            # secret in a path (or a service name) is masked here.
            self.progress.step(redact(line))

    def error_for(
        self, method: str, url: str | httpx.URL, response: httpx.Response
    ) -> HttpStatusError:
        """The classified, redacted error for a response the caller accepted but cannot use.

        For callers that must see a status first (a registry reads the 401's
        challenge) and only then decide it is a failure.
        """
        return self._status_error(method, url, response, 1)

    def _transport_error(
        self, method: str, url: str | httpx.URL, problem: str, attempt: int, fix: str | None = None
    ) -> TransportError:
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        return TransportError(
            f"{self.service}: {method} {display_url(url)} failed{tries}: {redact(problem)}.",
            fix=fix
            or f"Check that {self.service} is reachable from here, then run the command again.",
        )

    def _status_error(
        self,
        method: str,
        url: str | httpx.URL,
        response: httpx.Response,
        attempt: int,
        *,
        waited_out: float | None = None,
        force_rate_limit: bool = False,
    ) -> HttpStatusError:
        status = response.status_code
        code, detail = error_code_and_detail(response)
        cls = RateLimited if force_rate_limit else _ERROR_CLASSES.get(status, UnexpectedStatus)
        text = f"{self.service}: {method} {display_url(url)} answered {status}"
        if code:
            text += f" {code}"
        if detail:
            text += f": {detail.rstrip('.')}"
        if attempt > 1:
            text += f" (after {attempt} attempts)"
        text += "."
        fix = self._hints(response) if self._hints else None
        if waited_out is not None:
            fix = (
                f"The service asks to wait {waited_out:.0f}s, longer than the "
                f"{self.policy.max_server_wait:.0f}s we wait; run again after that."
            )
        return cls(text, status=status, method=method, url=display_url(url), code=code, fix=fix)
