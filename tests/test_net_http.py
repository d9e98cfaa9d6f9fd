"""``core.net.HttpClient``: the retry policy, classification and redaction.

Policy tests use an ``httpx.MockTransport`` for the server: the subject is
what the client does with each answer, not the wire. The waits
are recorded by a fake ``sleep`` that advances a fake clock, so nothing here
waits. Retry waits are announced on a ``RecordingProgress``.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from metaboost_ci.core.errors import (
    AuthenticationRequired,
    HttpStatusError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ResponseTooLarge,
    TransportError,
    UnexpectedStatus,
)
from metaboost_ci.core.net import HttpClient, RetryPolicy, register_secret
from metaboost_ci.core.net.http import RateLimit
from metaboost_ci.core.net.retry import retry_after_seconds
from metaboost_ci.core.progress import RecordingProgress
from tests.support.fake_time import FakeTime

URL = "https://api.example.test/things"


class FixedBackoff(RetryPolicy):
    """Backoff without jitter, so the total bound can be checked exactly."""

    def backoff(self, attempt: int) -> float:
        return 1.0


Answer = httpx.Response | Exception
Handler = Callable[[httpx.Request], httpx.Response]


def scripted(answers: list[Answer], seen: list[httpx.Request]) -> Handler:
    """Answer requests in order; the last answer repeats."""
    queue: Iterator[Answer] = iter(answers)
    last: list[Answer] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(queue, None)
        if answer is None:
            answer = last[0]
        last[:] = [answer]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_client(
    answers: list[Answer],
    fake_time: FakeTime,
    seen: list[httpx.Request] | None = None,
    *,
    policy_class: type[RetryPolicy] = RetryPolicy,
    **policy: float,
) -> HttpClient:
    return HttpClient(
        service="test service",
        policy=policy_class(sleep=fake_time.sleep, clock=fake_time.clock, **policy),
        transport=httpx.MockTransport(scripted(answers, [] if seen is None else seen)),
        hints=lambda r: "do the documented thing" if r.status_code in (401, 403) else None,
    )


# ------------------------------------------------------------ retry or not


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
async def test_idempotent_requests_retry_retryable_statuses(
    status: int, method: str, fake_time: FakeTime
) -> None:
    async with make_client([httpx.Response(status), httpx.Response(200)], fake_time) as client:
        response = await client.request(method, URL)
    assert response.status_code == 200
    assert client.requests_sent == 2
    assert len(fake_time.sleeps) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, UnexpectedStatus),
        (401, AuthenticationRequired),
        (403, PermissionDenied),
        (404, NotFound),
        (405, UnexpectedStatus),
        (409, UnexpectedStatus),
        (422, UnexpectedStatus),
        (501, UnexpectedStatus),
    ],
)
async def test_final_statuses_are_never_retried(
    status: int, error: type[HttpStatusError], fake_time: FakeTime
) -> None:
    async with make_client([httpx.Response(status), httpx.Response(200)], fake_time) as client:
        with pytest.raises(error) as caught:
            await client.request("GET", URL)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert client.requests_sent == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_post_is_not_retried_when_the_server_may_have_acted(
    status: int, fake_time: FakeTime
) -> None:
    async with make_client([httpx.Response(status), httpx.Response(201)], fake_time) as client:
        with pytest.raises(UnexpectedStatus):
            await client.request("POST", URL, expect=(201,))
    assert client.requests_sent == 1


@pytest.mark.parametrize("status", [408, 429])
async def test_post_is_retried_when_the_server_did_not_act(
    status: int, fake_time: FakeTime
) -> None:
    async with make_client([httpx.Response(status), httpx.Response(201)], fake_time) as client:
        response = await client.request("POST", URL, expect=(201,))
    assert response.status_code == 201
    assert client.requests_sent == 2


async def test_post_marked_idempotent_is_retried_on_5xx(fake_time: FakeTime) -> None:
    async with make_client([httpx.Response(502), httpx.Response(201)], fake_time) as client:
        response = await client.request("POST", URL, expect=(201,), idempotent=True)
    assert response.status_code == 201
    assert client.requests_sent == 2


async def test_connection_errors_retry_for_get(fake_time: FakeTime) -> None:
    answers: list[Answer] = [
        httpx.ConnectError("refused"),
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("server disconnected"),
        httpx.Response(200),
    ]
    async with make_client(answers, fake_time) as client:
        assert (await client.request("GET", URL)).status_code == 200
    assert client.requests_sent == 4


async def test_post_retries_a_refused_connection_but_not_a_dropped_one(fake_time: FakeTime) -> None:
    answers: list[Answer] = [httpx.ConnectError("refused"), httpx.Response(201)]
    async with make_client(answers, fake_time) as client:
        assert (await client.request("POST", URL, expect=(201,))).status_code == 201
    # Reset after the request went out: the server may have acted; no blind retry.
    dropped: list[Answer] = [httpx.ReadError("reset"), httpx.Response(201)]
    async with make_client(dropped, fake_time) as client:
        with pytest.raises(TransportError, match="ReadError"):
            await client.request("POST", URL, expect=(201,))
    assert client.requests_sent == 1


async def test_attempts_are_capped(fake_time: FakeTime) -> None:
    async with make_client([httpx.Response(503)], fake_time, attempts=4) as client:
        with pytest.raises(UnexpectedStatus, match="after 4 attempts") as caught:
            await client.request("GET", URL)
    assert caught.value.status == 503
    assert client.requests_sent == 4
    assert len(fake_time.sleeps) == 3
    async with make_client([httpx.ReadError("reset")], fake_time, attempts=3) as client:
        with pytest.raises(TransportError, match="after 3 attempts"):
            await client.request("GET", URL)
    assert client.requests_sent == 3


async def test_backoff_waits_are_capped(fake_time: FakeTime) -> None:
    async with make_client(
        [httpx.Response(500)], fake_time, attempts=8, base_delay=1.0, max_delay=2.0
    ) as client:
        with pytest.raises(UnexpectedStatus):
            await client.request("GET", URL)
    assert len(fake_time.sleeps) == 7
    assert all(0 <= s <= 2.0 for s in fake_time.sleeps)


# ---------------------------------------------------------- Retry-After, bounds


def test_allows_retry_needs_an_attempt_left_and_time_left() -> None:
    now = [100.0]
    policy = RetryPolicy(attempts=3, total_seconds=10.0, clock=lambda: now[0])
    assert policy.allows_retry(2, started=100.0, wait=1.0)
    assert not policy.allows_retry(3, started=100.0, wait=1.0)  # the last attempt failed
    now[0] = 108.0
    assert policy.allows_retry(1, started=100.0, wait=2.0)  # ends at exactly 10 s
    assert not policy.allows_retry(1, started=100.0, wait=2.5)  # would end past it


async def test_429_honours_retry_after_seconds(fake_time: FakeTime) -> None:
    answers: list[Answer] = [
        httpx.Response(429, headers={"retry-after": "7"}),
        httpx.Response(429, headers={"retry-after": "0.5"}),
        httpx.Response(200),
    ]
    async with make_client(answers, fake_time) as client:
        await client.request("GET", URL)
    assert fake_time.sleeps == [7.0, 0.5]


async def test_503_honours_retry_after_http_date(fake_time: FakeTime) -> None:
    import time

    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    answers: list[Answer] = [
        httpx.Response(503, headers={"retry-after": when}),
        httpx.Response(200),
    ]
    async with make_client(answers, fake_time) as client:
        await client.request("GET", URL)
    (waited,) = fake_time.sleeps
    # The date has one-second resolution and a little real time passes.
    assert 27.0 <= waited <= 30.0


async def test_a_wait_longer_than_allowed_fails_at_once_saying_when(fake_time: FakeTime) -> None:
    answers: list[Answer] = [httpx.Response(429, headers={"retry-after": "600"})]
    async with make_client(answers, fake_time, max_server_wait=90.0) as client:
        with pytest.raises(RateLimited) as caught:
            await client.request("GET", URL)
    assert client.requests_sent == 1
    assert fake_time.sleeps == []
    assert caught.value.fix is not None
    assert "600s" in caught.value.fix


async def test_exhausted_429_is_rate_limited(fake_time: FakeTime) -> None:
    async with make_client([httpx.Response(429)], fake_time, attempts=2) as client:
        with pytest.raises(RateLimited):
            await client.request("GET", URL)
    assert client.requests_sent == 2


async def test_total_time_bound_stops_retrying(fake_time: FakeTime) -> None:
    answers: list[Answer] = [httpx.Response(429, headers={"retry-after": "3"})]
    async with make_client(answers, fake_time, attempts=100, total_seconds=10.0) as client:
        with pytest.raises(RateLimited):
            await client.request("GET", URL)
    # 3 + 3 + 3 = 9 s waited; a fourth wait would end at 12 s, past the 10 s bound.
    assert fake_time.sleeps == [3.0, 3.0, 3.0]
    assert client.requests_sent == 4


async def test_total_time_bound_counts_time_spent_in_requests(fake_time: FakeTime) -> None:
    seen: list[httpx.Request] = []

    def slow(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        fake_time.now += 4.0  # each attempt takes 4 s to fail
        raise httpx.ReadTimeout("timed out")

    client = HttpClient(
        service="test service",
        policy=FixedBackoff(
            sleep=fake_time.sleep, clock=fake_time.clock, attempts=100, total_seconds=12.0
        ),
        transport=httpx.MockTransport(slow),
    )
    async with client:
        with pytest.raises(TransportError, match="ReadTimeout"):
            await client.request("GET", URL)
    # Attempts end at 4 s and 9 s (after a 1 s wait each), then 14 s: a third
    # wait would end at 15 s, past the 12 s bound, so the client gives up there.
    assert len(seen) == 3
    assert fake_time.sleeps == [1.0, 1.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("0.25", 0.25),
        (" 5 ", 5.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: no wait
        ("-1", None),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_parsing(value: str, expected: float | None) -> None:
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    response = httpx.Response(429, headers={"retry-after": value})
    assert retry_after_seconds(response, now=now) == expected


def test_retry_after_absent() -> None:
    assert retry_after_seconds(httpx.Response(429)) is None


# ----------------------------------------------- classification and redaction


async def test_error_message_names_code_detail_and_fix(fake_time: FakeTime) -> None:
    body = {"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]}
    async with make_client([httpx.Response(403, json=body)], fake_time) as client:
        with pytest.raises(PermissionDenied) as caught:
            await client.request("PUT", URL + "?scope=x")
    error = caught.value
    assert error.code == "DENIED"
    assert error.method == "PUT"
    assert error.url == URL
    assert str(error) == (
        "test service: PUT https://api.example.test/things answered 403 DENIED: requested "
        "access to the resource is denied. Fix: do the documented thing"
    )


async def test_secrets_never_reach_error_messages(fake_time: FakeTime) -> None:
    secret = "net-secret-7f3a9c"
    register_secret(secret)
    echo = {"message": f"bad token {secret}; Authorization: Bearer abc.def.ghi"}
    url = f"https://user:{secret}@api.example.test/things?access_token={secret}"
    async with make_client([httpx.Response(401, json=echo)], fake_time) as client:
        with pytest.raises(AuthenticationRequired) as caught:
            await client.request("GET", url)
    text = str(caught.value) + repr(caught.value.args) + caught.value.url
    assert secret not in text
    assert "abc.def.ghi" not in text
    assert "access_token" not in text
    assert "bad token ***" in text

    boom: list[Answer] = [httpx.ConnectError(f"cannot reach proxy with {secret}")]
    async with make_client(boom, fake_time, attempts=1) as client:
        with pytest.raises(TransportError) as transport_caught:
            await client.request("GET", URL)
    assert secret not in str(transport_caught.value)
    assert transport_caught.value.__cause__ is None  # the raw httpx error (and its text) is dropped


async def test_error_for_classifies_a_response_the_caller_read(fake_time: FakeTime) -> None:
    async with make_client([httpx.Response(401)], fake_time) as client:
        response = await client.request("GET", URL, expect=(200, 401))
        error = client.error_for("GET", URL, response)
    assert isinstance(error, AuthenticationRequired)
    assert error.fix == "do the documented thing"


async def test_a_rate_limit_hook_turns_a_403_into_a_wait(fake_time: FakeTime) -> None:
    def github_like(response: httpx.Response) -> float | None:
        if response.headers.get("x-ratelimit-remaining") == "0":
            return 5.0
        return None

    answers: list[Answer] = [
        httpx.Response(403, headers={"x-ratelimit-remaining": "0"}),
        httpx.Response(200),
    ]
    client = HttpClient(
        service="test service",
        policy=RetryPolicy(sleep=fake_time.sleep, clock=fake_time.clock),
        transport=httpx.MockTransport(scripted(answers, [])),
        rate_limit=github_like,
    )
    async with client:
        assert (await client.request("GET", URL)).status_code == 200
    assert fake_time.sleeps == [5.0]


async def test_a_secret_cut_by_the_body_excerpt_leaves_no_head_behind(fake_time: FakeTime) -> None:
    secret = "cut-secret-0123456789abcdef"
    register_secret(secret)
    # An HTML error page that echoes the secret across the 300-character excerpt.
    page = "<html>" + "x" * 274 + secret + "</html>"
    async with make_client([httpx.Response(400, text=page)], fake_time) as client:
        with pytest.raises(UnexpectedStatus) as caught:
            await client.request("GET", URL)
    assert secret[:12] not in str(caught.value)
    assert "***" in str(caught.value)


# ------------------------------------------------------- retries announced


def announcing_client(
    answers: list[Answer],
    fake_time: FakeTime,
    progress: RecordingProgress,
    *,
    rate_limit: RateLimit | None = None,
    **policy: float,
) -> HttpClient:
    return HttpClient(
        service="test service",
        policy=FixedBackoff(sleep=fake_time.sleep, clock=fake_time.clock, **policy),
        transport=httpx.MockTransport(scripted(answers, [])),
        rate_limit=rate_limit,
        progress=progress,
    )


async def test_each_retry_wait_is_announced_once_with_its_number_and_wait(
    fake_time: FakeTime,
) -> None:
    progress = RecordingProgress()
    answers: list[Answer] = [httpx.Response(503), httpx.Response(502), httpx.Response(200)]
    async with announcing_client(answers, fake_time, progress) as client:
        await client.request("GET", URL)
    assert progress.lines == [
        "GET api.example.test/things answered 503; retry 1 of 5 in 1.0 s",
        "GET api.example.test/things answered 502; retry 2 of 5 in 1.0 s",
    ]
    assert fake_time.sleeps == [1.0, 1.0]


async def test_connection_failures_are_announced_in_a_few_words(fake_time: FakeTime) -> None:
    progress = RecordingProgress()
    answers: list[Answer] = [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(200),
    ]
    async with announcing_client(answers, fake_time, progress) as client:
        await client.request("HEAD", URL)
    assert progress.lines == [
        "HEAD api.example.test/things connection refused; retry 1 of 5 in 1.0 s",
        "HEAD api.example.test/things connect timed out; retry 2 of 5 in 1.0 s",
        "HEAD api.example.test/things connection lost; retry 3 of 5 in 1.0 s",
    ]


async def test_no_line_without_a_wait(fake_time: FakeTime) -> None:
    progress = RecordingProgress()
    async with announcing_client([httpx.Response(200)], fake_time, progress) as client:
        await client.request("GET", URL)
    async with announcing_client([httpx.Response(404)], fake_time, progress) as client:
        with pytest.raises(NotFound):
            await client.request("GET", URL)
    assert progress.lines == []
    # The last attempt fails without a wait, so without a line.
    async with announcing_client([httpx.Response(500)], fake_time, progress, attempts=3) as client:
        with pytest.raises(UnexpectedStatus):
            await client.request("GET", URL)
    assert [line.split("; ")[1] for line in progress.lines] == [
        "retry 1 of 2 in 1.0 s",
        "retry 2 of 2 in 1.0 s",
    ]


async def test_a_server_asked_wait_and_a_rate_limit_say_so(fake_time: FakeTime) -> None:
    progress = RecordingProgress()
    answers: list[Answer] = [
        httpx.Response(503, headers={"retry-after": "7"}),
        httpx.Response(429, headers={"retry-after": "42"}),
        httpx.Response(200),
    ]
    async with announcing_client(answers, fake_time, progress) as client:
        await client.request("GET", URL)
    assert fake_time.sleeps == [7.0, 42.0]
    unavailable, limited = progress.lines
    assert unavailable == "GET api.example.test/things answered 503; retry 1 of 5 in 7.0 s as asked"
    assert re.fullmatch(
        r"test service rate limit: waiting 42 s \(until \d\d:\d\d:\d\d UTC\); "
        r"GET api\.example\.test/things answered 429, retry 2 of 5",
        limited,
    ), limited


async def test_a_403_the_rate_limit_hook_recognises_is_announced_as_a_rate_limit(
    fake_time: FakeTime,
) -> None:
    def github_like(response: httpx.Response) -> float | None:
        return 30.0 if response.headers.get("x-ratelimit-remaining") == "0" else None

    progress = RecordingProgress()
    answers: list[Answer] = [
        httpx.Response(403, headers={"x-ratelimit-remaining": "0"}),
        httpx.Response(200),
    ]
    async with announcing_client(answers, fake_time, progress, rate_limit=github_like) as client:
        await client.request("GET", URL)
    (line,) = progress.lines
    assert line.startswith("test service rate limit: waiting 30 s (until ")
    assert line.endswith("UTC); GET api.example.test/things answered 403, retry 1 of 5")


async def test_retry_lines_show_no_secret_and_no_query(fake_time: FakeTime) -> None:
    secret = "progress-secret-5d1e"
    register_secret(secret)
    progress = RecordingProgress()
    url = f"https://user:{secret}@api.example.test/{secret}/things?token={secret}&scope=x"
    answers: list[Answer] = [
        httpx.Response(503),
        httpx.ConnectError(secret),
        httpx.Response(429, headers={"retry-after": "3"}),
        httpx.Response(200),
    ]
    async with announcing_client(answers, fake_time, progress) as client:
        await client.request("GET", url)
    assert progress.lines[:2] == [
        "GET api.example.test/***/things answered 503; retry 1 of 5 in 1.0 s",
        "GET api.example.test/***/things could not connect; retry 2 of 5 in 1.0 s",
    ]
    # The rate-limit line is built apart from the others: masked all the same.
    assert re.fullmatch(
        r"test service rate limit: waiting 3 s \(until \d\d:\d\d:\d\d UTC\); "
        r"GET api\.example\.test/\*\*\*/things answered 429, retry 3 of 5",
        progress.lines[2],
    ), progress.lines[2]
    assert len(progress.lines) == 3


async def test_a_digest_in_a_retry_line_is_cut_short(fake_time: FakeTime) -> None:
    progress = RecordingProgress()
    digest = "sha256:" + "0123456789ab" + "c" * 52
    async with announcing_client([httpx.Response(502)], fake_time, progress, attempts=2) as client:
        with pytest.raises(UnexpectedStatus):
            await client.request("GET", f"https://ghcr.io/v2/o/r/api/blobs/{digest}")
    assert progress.lines == [
        "GET ghcr.io/v2/o/r/api/blobs/sha256:0123456789ab... answered 502; retry 1 of 1 in 1.0 s"
    ]


# ------------------------------------------------------------ bounded answers


@pytest.mark.parametrize("announced", [True, False])
async def test_an_answer_over_max_bytes_is_refused_and_not_retried(
    fake_time: FakeTime, announced: bool
) -> None:
    body = b"x" * 5000

    async def pieces() -> AsyncIterator[bytes]:
        yield body[:2500]
        yield body[2500:]

    # httpx sets Content-Length for bytes; a generator body has none (chunked).
    answer = httpx.Response(200, content=body if announced else pieces())
    async with make_client([answer], fake_time) as client:
        with pytest.raises(ResponseTooLarge) as caught:
            await client.request("GET", URL, max_bytes=4096)
    assert str(caught.value).startswith(
        f"test service: GET {URL} answered with more than 4096 bytes; reading stopped there."
    )
    assert caught.value.limit == 4096
    assert client.requests_sent == 1
    async with make_client([httpx.Response(200, content=body)], fake_time) as client:
        assert (await client.request("GET", URL, max_bytes=5000)).content == body


async def test_an_error_answer_is_read_only_to_its_first_64_kib(fake_time: FakeTime) -> None:
    body = json.dumps({"message": "busy " + "y" * 200_000}).encode()
    async with make_client([httpx.Response(400, content=body)], fake_time) as client:
        with pytest.raises(UnexpectedStatus) as caught:
            await client.request("GET", URL)
    # Cut at 64 KiB the JSON no longer parses: the error shows its start, not all of it.
    assert caught.value.status == 400
    assert len(str(caught.value)) < 1000
