"""Answers bounded in size and time: what ``HttpClient`` reads, and how long it waits.

A registry or API answer is read as it arrives and never past a limit, so a
hostile or broken server cannot make us buffer gigabytes; a try that takes
long is announced while it waits (the deadline itself is ``HttpClient``'s).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import httpx

# The longest answer read when the caller names no limit: a 50,000-tag page is
# about 1.5 MB, GitHub's JSON far less; nothing this client reads comes near.
DEFAULT_MAX_BODY = 32 * 1024 * 1024
# Of an error answer (or a redirect) only this much is read: enough for any
# error document, and a hostile server cannot make us buffer more.
ERROR_BODY_BYTES = 64 * 1024
_READ_CHUNK = 64 * 1024


class OverLimit(Exception):
    """The answer went on past the limit asked for (``HttpClient`` words the error)."""


async def read_body(response: httpx.Response, limit: int | None) -> bytes:
    """The body of a streamed ``response``, read as it comes: at most ``limit``
    bytes, else ``OverLimit``. ``limit`` None: an error answer, kept to its
    first ``ERROR_BODY_BYTES`` without complaint."""
    cap = ERROR_BODY_BYTES if limit is None else limit
    announced = response.headers.get("content-length", "")
    # A HEAD's length is the object's, not an answer to read.
    head = response.request.method == "HEAD"
    too_long = not head and announced.isdigit() and int(announced) > cap
    if too_long and limit is not None:
        raise OverLimit
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes(_READ_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            if limit is not None:
                raise OverLimit
            break
    return b"".join(chunks)[:cap]


def seconds_text(value: float) -> str:
    """``0.5``, ``12``: a tenth where it matters, whole seconds where it does not."""
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def with_content(response: httpx.Response, content: bytes) -> httpx.Response:
    """A closed streamed ``response`` rebuilt around the body read from it.

    The body is already decoded, so any Content-Encoding header goes: httpx
    would otherwise decode it a second time. Content-Length stays as sent (a
    HEAD's says how big the object is).
    """
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=content,
        request=response.request,
        extensions=response.extensions,
    )


async def with_heartbeat(
    work: Callable[[], Awaitable[httpx.Response]],
    every: float,
    say: Callable[[float], None],
) -> httpx.Response:
    """``await work()``, calling ``say(seconds so far)`` every ``every`` seconds meanwhile."""
    outcome: list[httpx.Response] = []
    failure: list[Exception] = []

    async def beat() -> None:
        started = anyio.current_time()
        while True:
            await anyio.sleep(every)
            say(anyio.current_time() - started)

    async with anyio.create_task_group() as group:
        group.start_soon(beat)
        try:
            outcome.append(await work())
        except Exception as exc:  # raised below, outside the group, as itself
            failure.append(exc)
        group.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]
