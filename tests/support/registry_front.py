"""A small front server for registry-client tests: forwards to a real
docker-registry and adds what docker-registry never does.

- ``Storage``: a "storage host" on another port serving blobs by digest (GHCR
  redirects blob reads to one; it must never see the registry token).
- ``Front(upstream, storage=, deny_puts=, echo_credentials=)``: redirects blob
  reads to ``storage`` after the registry accepted the request, answers PUTs 403
  DENIED like GHCR.
- A hostile registry, by plain attributes a test sets on a ``Front``:
  ``oversize = N`` answers GETs whose path matches ``oversize_path`` (a regex,
  default manifests) with N bytes of JSON-looking padding, without a length, so
  only the client can stop it; ``drip = S`` sends each forwarded GET body one
  byte every S seconds; ``lie_digest = D`` reports Docker-Content-Digest D on
  the manifest answers to ``lie_methods`` (default HEAD and GET) whose path
  matches ``lie_path`` (a regex, default every manifest). ``sent_bytes``
  counts the body bytes the front got onto the socket (oversize, drip).

Both are context managers and record every request with its headers
(``recorder.seen``). The shared proxies (``proxies.py``) have no such switches.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import httpx

from .images import PushedImage
from .ports import LoopbackServer, LoopbackService

_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>sha256:[a-f0-9]{64})$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Recorder:
    seen: list[Seen] = field(default_factory=list[Seen])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.seen.append(Seen(handler.command, handler.path, headers))


class Storage(LoopbackService):
    """A 'storage host' on another port that serves blobs by digest, like GHCR's."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.recorder = Recorder()
        storage = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                storage.recorder.add(self)
                data = storage.blobs.get(urlsplit(self.path).path.rsplit("/", 1)[-1])
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                if self.command == "GET" and data is not None:
                    self.wfile.write(data)

            do_HEAD = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = LoopbackServer(Handler)
        self.url = self.server.url


class Front(LoopbackService):
    """Forwards to ``upstream``; ``storage`` gets the blob reads (redirected),
    ``deny_puts`` answers PUTs 403
    (``echo_credentials``: quoting the request's Authorization header back, as a
    careless server might, to prove the client masks it)."""

    def __init__(
        self,
        upstream: str,
        *,
        storage: Storage | None = None,
        deny_puts: bool = False,
        echo_credentials: bool = False,
    ) -> None:
        self.recorder = Recorder()
        self.oversize: int | None = None
        self.oversize_path = r"/manifests/"
        self.drip: float | None = None
        self.lie_digest: str | None = None
        self.lie_methods: tuple[str, ...] = ("HEAD", "GET")
        self.lie_path = r"/manifests/"
        self.sent_bytes = 0
        front = self
        client = httpx.Client(base_url=upstream, timeout=30)
        self._client = client

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                front.recorder.add(self)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                path = self.path
                blob = _BLOB.match(urlsplit(path).path)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if storage is not None and blob and self.command in ("GET", "HEAD"):
                    # GHCR checks the token, then redirects blob reads to a signed
                    # storage URL: ask the registry first, redirect if it would serve.
                    check = client.head(path, headers=headers)
                    if check.status_code != 200:
                        kept = [
                            (k, v)
                            for k, v in check.headers.multi_items()
                            if k.lower() not in _HOP_BY_HOP
                        ]
                        return self._answer(check.status_code, kept, b"")
                    target = f"{storage.url}/objects/{blob['digest']}?signature=opaque"
                    return self._answer(307, [("Location", target)], b"")
                if (
                    front.oversize is not None
                    and self.command == "GET"
                    and re.search(front.oversize_path, path)
                ):
                    return self._oversized(front.oversize)
                if deny_puts and self.command == "PUT":
                    message = "permission_denied"
                    if echo_credentials:
                        message += f" for {self.headers.get('Authorization')}"
                    denied = {"errors": [{"code": "DENIED", "message": message}]}
                    return self._answer(
                        403, [("Content-Type", "application/json")], json.dumps(denied).encode()
                    )
                response = client.request(self.command, path, headers=headers, content=body)
                out = [
                    (k, v.replace(upstream, front.url) if k.lower() == "location" else v)
                    for k, v in response.headers.multi_items()
                    if k.lower() not in _HOP_BY_HOP
                ]
                length_header = response.headers.get("content-length")
                if self.command == "HEAD" and length_header is not None:
                    out.append(("Content-Length", length_header))
                if (
                    front.lie_digest is not None
                    and self.command in front.lie_methods
                    and re.search(front.lie_path, path)
                ):
                    out = [(k, v) for k, v in out if k.lower() != "docker-content-digest"]
                    out.append(("Docker-Content-Digest", front.lie_digest))
                if front.drip is not None and self.command == "GET":
                    return self._dripped(response.status_code, out, response.content, front.drip)
                return self._answer(response.status_code, out, response.content)

            def _oversized(self, size: int) -> None:
                """``size`` bytes, close-delimited: the client must stop reading itself."""
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                chunk = b'{"padding": "' + b"x" * (64 * 1024 - 16) + b'"}\n'
                sent = 0
                with contextlib.suppress(OSError):
                    while sent < size:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                        with front.recorder.lock:
                            front.sent_bytes += len(chunk)

            def _dripped(
                self, status: int, headers: list[tuple[str, str]], data: bytes, every: float
            ) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    for i in range(len(data)):
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        with front.recorder.lock:
                            front.sent_bytes += 1
                        time.sleep(every)  # the slow registry itself, by design

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                elif not any(n.lower() == "content-length" for n, _ in headers):
                    self.send_header("Content-Length", "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = LoopbackServer(Handler)
        self.url = self.server.url

    def stop(self) -> None:
        super().stop()
        self._client.close()


def blobs_of(pushed: PushedImage) -> dict[str, bytes]:
    """Every blob of an image (children included), by digest."""
    return {
        blob.digest: blob.data for image in [pushed, *pushed.children] for blob in image.image.blobs
    }
