"""A loopback reverse proxy with switches: GHCR-like tag paging, faults, latency.

It sits in front of a registry (or any HTTP upstream, e.g. the GitHub emulator)
and records every request it answers. Switches (keyword arguments of ``Proxy``;
plain attributes, so a test may flip them while the proxy runs):

- ``page_tags=N``: page ``GET /v2/<name>/tags/list`` like ghcr.io: sorted tags,
  ``n`` (default N) and ``last`` honoured, ``Link: </v2/<name>/tags/list?last=..&n=..>;
  rel="next"`` while more remain. docker-registry 2.8.2 itself never pages.
  ``page_cap=M``: no page holds more than M tags, whatever ``n`` asks (a
  registry capping page sizes); ``cache_tags=True``: read the upstream's
  list once per repository (benchmarks with tens of thousands of tags).
- ``fault_rate=0.2, seed=0, faults=ALL_FAULTS``: that share of requests gets a
  fault instead of an answer, drawn from a ``random.Random(seed)`` so a run is
  reproducible. Faults: ``"429"`` (``Retry-After: <retry_after>`` seconds),
  ``"429-date"`` (``Retry-After`` as an HTTP date), ``"500"``, ``"502"``,
  ``"503"``, ``"504"``, ``"drop"`` (close the connection without answering).
  ``processed_rate``: share of injected 5xx/drop faults that happen after the
  upstream acted on the request (a lost answer), the rest before.
  Token endpoints (paths starting ``/token``) are exempt unless ``fault_token``.
  ``fault_paths``: a regex; when set, only matching paths get random faults.
- ``inject(fault, method=, path=, times=1, processed=False)``: scripted faults
  for the next matching requests, whatever the rate.
- ``latency=0.025``: seconds added to every request (emulated round trip).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import email.utils
import http.client
import io
import itertools
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from .ports import LoopbackServer, LoopbackService
from .registry_process import Registry

Upstream = Registry | str
# The shared clock of ``ProxyRecord.arrived`` and ``answered`` (next() is atomic).
_MOMENTS = itertools.count(1)
ALL_FAULTS = ("429", "429-date", "500", "502", "503", "504", "drop")
# Faults after which the request may still have been acted on.
_PROCESSABLE = frozenset({"500", "502", "503", "504", "drop"})
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_REWRITTEN = frozenset({"location", "link", "www-authenticate"})
_TAGS_LIST = re.compile(r"^/v2/(?P<name>.+)/tags/list$")


@dataclass(frozen=True)
class ProxyRecord:
    """One request the proxy answered. ``status`` is None for a dropped connection;
    ``fault`` names the injected fault, None when the upstream answered."""

    method: str
    path: str
    status: int | None
    fault: str | None = None
    # When it arrived and when it was answered, counted on one clock that every
    # proxy in the process shares, so two proxies' records can be put in order.
    arrived: int = 0
    answered: int = 0


@dataclass
class _Scripted:
    fault: str
    method: str | None
    path: re.Pattern[str] | None
    times: int
    processed: bool

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path.search(path) is not None
        )


class Proxy(LoopbackService):
    """A running proxy: ``url``, ``host``, ``records``, ``count()``, ``registry``."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        page_tags: int | None = None,
        page_cap: int | None = None,
        cache_tags: bool = False,
        fault_rate: float = 0.0,
        seed: int = 0,
        faults: Iterable[str] = ALL_FAULTS,
        fault_paths: str | None = None,
        fault_token: bool = False,
        processed_rate: float = 0.0,
        retry_after: int = 0,
        latency: float = 0.0,
    ) -> None:
        self.upstream = upstream
        upstream_url = upstream.url if isinstance(upstream, Registry) else upstream.rstrip("/")
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"proxy upstream must be http://HOST:PORT, got {upstream_url!r}")
        self.upstream_url = upstream_url
        self._upstream_address = (parts.hostname, parts.port)
        self.page_tags = page_tags
        self.page_cap = page_cap
        self.cache_tags = cache_tags
        self._tag_lists: dict[str, list[str]] = {}
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        unknown = set(self.faults) - set(ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; choose from {ALL_FAULTS}")
        self.fault_paths = re.compile(fault_paths) if fault_paths else None
        self.fault_token = fault_token
        self.processed_rate = processed_rate
        self.retry_after = retry_after
        self.latency = latency
        self._random = random.Random(seed)
        self._scripted: list[_Scripted] = []
        self._records: list[ProxyRecord] = []
        self._lock = threading.Lock()
        self.server = LoopbackServer(_make_handler(self))
        self.url = self.server.url
        self.host = self.url.removeprefix("http://")

    @property
    def registry(self) -> Registry:
        """The upstream registry as reached through this proxy."""
        if not isinstance(self.upstream, Registry):
            raise TypeError("this proxy's upstream is a URL, not a Registry")
        return self.upstream.via(self.url)

    # -- faults -------------------------------------------------------------
    def inject(
        self,
        fault: str,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        processed: bool = False,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and the regex
        ``path`` with ``fault``; ``processed`` forwards them first (lost answer)."""
        if fault not in ALL_FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {ALL_FAULTS}")
        compiled = re.compile(path) if path else None
        with self._lock:
            self._scripted.append(_Scripted(fault, method, compiled, times, processed))

    def _choose_fault(self, method: str, path: str) -> tuple[str, bool] | None:
        with self._lock:
            for scripted in self._scripted:
                if scripted.times > 0 and scripted.matches(method, path):
                    scripted.times -= 1
                    return scripted.fault, scripted.processed
            if path.startswith("/token") and not self.fault_token:
                return None
            if self.fault_paths is not None and not self.fault_paths.search(path):
                return None
            if self.fault_rate <= 0 or self._random.random() >= self.fault_rate:
                return None
            fault = self._random.choice(self.faults)
            processed = fault in _PROCESSABLE and self._random.random() < self.processed_rate
            return fault, processed

    # -- records ------------------------------------------------------------
    @property
    def records(self) -> list[ProxyRecord]:
        with self._lock:
            return list(self._records)

    def count(
        self, method: str | None = None, path: str | None = None, *, faults: bool | None = None
    ) -> int:
        """Requests matching ``method`` and the regex ``path``; ``faults=True`` counts
        only injected faults, ``False`` only upstream answers."""
        pattern = re.compile(path) if path else None
        return sum(
            1
            for r in self.records
            if (method is None or r.method == method)
            and (pattern is None or pattern.search(r.path))
            and (faults is None or (r.fault is not None) == faults)
        )

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def _record(self, record: ProxyRecord) -> None:
        with self._lock:
            self._records.append(record)

    def _rewrite(self, value: str) -> str:
        return value.replace(self.upstream_url, self.url)


class _Drop(Exception):
    """Close the client connection without an answer."""


def _make_handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class ProxyHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        _upstream: http.client.HTTPConnection | None = None

        def do_GET(self) -> None:
            self._handle()

        do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

        def _handle(self) -> None:
            arrived = next(_MOMENTS)
            body = self._read_body()
            if proxy.latency > 0:
                time.sleep(proxy.latency)  # the emulated round trip, by design
            method, path = self.command, self.path
            chosen = proxy._choose_fault(method, path)  # pyright: ignore[reportPrivateUsage]
            # The answer is buffered so the request is recorded before the client
            # can see the answer (a test may count right after its call), and so
            # it leaves in one send.
            socket_file, self.wfile = self.wfile, io.BytesIO()
            try:
                if chosen is not None:
                    fault, processed = chosen
                    if processed:
                        with contextlib.suppress(OSError, http.client.HTTPException):
                            self._forward(method, path, body)
                    self._send_fault(fault)
                    status = None if fault == "drop" else int(fault[:3])
                    record = ProxyRecord(method, path, status, fault)
                else:
                    status = self._answer(method, path, body)
                    record = ProxyRecord(method, path, status)
            except _Drop:
                self.close_connection = True
                record = ProxyRecord(method, path, None, "drop")
            finally:
                answer = self.wfile.getvalue()
                self.wfile = socket_file
            record = dataclasses.replace(record, arrived=arrived, answered=next(_MOMENTS))
            proxy._record(record)  # pyright: ignore[reportPrivateUsage]
            if record.status is not None:
                self.wfile.write(answer)
                self.wfile.flush()

        # -- answering --------------------------------------------------------
        def _answer(self, method: str, path: str, body: bytes | None) -> int:
            match = _TAGS_LIST.match(urlsplit(path).path)
            if proxy.page_tags is not None and method == "GET" and match:
                return self._paged_tags(match["name"], path)
            try:
                status, headers, data = self._forward(method, path, body)
            except OSError as error:
                return self._send(502, {"errors": [{"code": "BAD_GATEWAY", "message": str(error)}]})
            # The upstream's own Date and Server go through; do not add ours.
            self.send_response_only(status)
            for name, value in headers:
                lower = name.lower()
                if lower in _HOP_BY_HOP or lower == "content-length":
                    continue
                if lower in _REWRITTEN:
                    value = proxy._rewrite(value)  # pyright: ignore[reportPrivateUsage]
                self.send_header(name, value)
            if method == "HEAD":
                # No body, but the upstream's length says how big the answer is.
                length = next((v for n, v in headers if n.lower() == "content-length"), None)
                if length is not None:
                    self.send_header("Content-Length", length)
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)
            return status

        def _paged_tags(self, name: str, path: str) -> int:
            query = parse_qs(urlsplit(path).query)
            tags = proxy._tag_lists.get(name) if proxy.cache_tags else None  # pyright: ignore[reportPrivateUsage]
            if tags is None:
                status, headers, data = self._forward("GET", f"/v2/{name}/tags/list", None)
                if status != 200:
                    content_type = next(
                        (v for n, v in headers if n.lower() == "content-type"), "application/json"
                    )
                    extra = [(n, v) for n, v in headers if n.lower() == "www-authenticate"]
                    return self._send_raw(status, data, content_type, extra)
                listing: dict[str, Any] = json.loads(data)
                if listing.get("tags") is None:
                    return self._send_raw(200, data, "application/json", [])
                tags = sorted(str(t) for t in listing["tags"])
                if proxy.cache_tags:
                    proxy._tag_lists[name] = tags  # pyright: ignore[reportPrivateUsage]
            assert proxy.page_tags is not None
            size = int(query.get("n", [proxy.page_tags])[0])
            if proxy.page_cap is not None:
                size = min(size, proxy.page_cap)
            last = query.get("last", [None])[0]
            start = 0 if last is None else bisect.bisect_right(tags, last)
            page = tags[start : start + size]
            extra: list[tuple[str, str]] = []
            if start + size < len(tags) and page:
                link = f"/v2/{name}/tags/list?last={quote(page[-1])}&n={size}"
                extra.append(("Link", f'<{link}>; rel="next"'))
            body = json.dumps({"name": name, "tags": page}).encode()
            return self._send_raw(200, body, "application/json", extra)

        def _forward(
            self, method: str, path: str, body: bytes | None
        ) -> tuple[int, list[tuple[str, str]], bytes]:
            # A header sent several times (skopeo sends one Accept per media
            # type) is joined into one comma-separated value, as RFC 9110
            # allows; a dict of single values would keep only the last.
            headers: dict[str, str] = {}
            for name, value in self.headers.items():
                if name.lower() in _HOP_BY_HOP or name.lower() == "content-length":
                    continue
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            if body is not None:
                headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):
                connection = self._connection()
                try:
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    result = response.status, response.getheaders(), data
                    if response.will_close:
                        self._close_upstream()
                    return result
                except (http.client.HTTPException, OSError):
                    # A kept-alive upstream connection may have gone stale: one fresh try.
                    self._close_upstream()
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        def _connection(self) -> http.client.HTTPConnection:
            if self._upstream is None:
                host, port = proxy._upstream_address  # pyright: ignore[reportPrivateUsage]
                self._upstream = http.client.HTTPConnection(host, port, timeout=30)
            return self._upstream

        def _close_upstream(self) -> None:
            if self._upstream is not None:
                self._upstream.close()
                self._upstream = None

        def finish(self) -> None:
            self._close_upstream()
            super().finish()

        # -- faults -----------------------------------------------------------
        def _send_fault(self, fault: str) -> None:
            if fault == "drop":
                raise _Drop
            status = int(fault[:3])
            extra: list[tuple[str, str]] = []
            if fault == "429":
                extra.append(("Retry-After", str(proxy.retry_after)))
            elif fault == "429-date":
                when = email.utils.formatdate(time.time() + proxy.retry_after, usegmt=True)
                extra.append(("Retry-After", when))
            code = "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE"
            body = {"errors": [{"code": code, "message": f"injected fault {fault}"}]}
            self._send_raw(status, json.dumps(body).encode(), "application/json", extra)

        # -- plumbing ---------------------------------------------------------
        def _read_body(self) -> bytes | None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = self.headers.get("Content-Length")
            if length is None:
                return None
            return self.rfile.read(int(length))

        def _send(self, status: int, body: Any) -> int:
            return self._send_raw(status, json.dumps(body).encode(), "application/json", [])

        def _send_raw(
            self, status: int, data: bytes, content_type: str, extra: list[tuple[str, str]]
        ) -> int:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra:
                if name.lower() in _REWRITTEN:
                    value = proxy._rewrite(value)  # pyright: ignore[reportPrivateUsage]
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return status

        def log_message(self, format: str, *args: Any) -> None:
            pass  # Requests are recorded in ``proxy.records``.

    return ProxyHandler


ProxyFactory = Callable[..., Proxy]
__all__ = ["ALL_FAULTS", "Proxy", "ProxyFactory", "ProxyRecord", "Upstream"]
