"""What docker-registry itself never does, emulated by a small front server that
forwards everything else to a real registry: GHCR's redirects of blob reads to
a storage host, a registry declining a cross-repository mount, and GHCR's 403.

The front is local to this file (the shared proxies have no such switches).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from metaboost_ci.core.errors import PermissionDenied
from metaboost_ci.core.registry import RegistryClient, RegistryCredentials
from tests.support.images import PushedImage, RegistrySession, push_image, push_index
from tests.support.ports import LoopbackServer
from tests.support.registry import Registry

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


class Storage:
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


class Front:
    """Forwards to ``upstream``; ``redirect_blobs`` sends blob reads to ``storage``,
    ``decline_mounts`` drops the mount parameters, ``deny_puts`` answers PUTs 403."""

    def __init__(
        self,
        upstream: str,
        *,
        storage: Storage | None = None,
        decline_mounts: bool = False,
        deny_puts: bool = False,
    ) -> None:
        self.recorder = Recorder()
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
                if deny_puts and self.command == "PUT":
                    denied = {"errors": [{"code": "DENIED", "message": "permission_denied"}]}
                    return self._answer(
                        403, [("Content-Type", "application/json")], json.dumps(denied).encode()
                    )
                if decline_mounts and self.command == "POST" and "mount=" in path:
                    parts = urlsplit(path)
                    query = [
                        (k, v) for k, v in parse_qsl(parts.query) if k not in ("mount", "from")
                    ]
                    path = urlunsplit(("", "", parts.path, urlencode(query), ""))
                response = client.request(self.command, path, headers=headers, content=body)
                out = [
                    (k, v.replace(upstream, front.url) if k.lower() == "location" else v)
                    for k, v in response.headers.multi_items()
                    if k.lower() not in _HOP_BY_HOP
                ]
                length_header = response.headers.get("content-length")
                if self.command == "HEAD" and length_header is not None:
                    out.append(("Content-Length", length_header))
                return self._answer(response.status_code, out, response.content)

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

    def close(self) -> None:
        self._client.close()


Running = list["Front | Storage"]


@pytest.fixture
def run() -> Iterator[Running]:
    """Servers started by a test; stopped at teardown, whatever happened."""
    servers: Running = []
    yield servers
    for thing in servers:
        thing.server.stop()
        if isinstance(thing, Front):
            thing.close()


def start_storage(run: Running, blobs: dict[str, bytes]) -> Storage:
    storage = Storage(blobs)
    storage.server.start()
    run.append(storage)
    return storage


def start_front(run: Running, upstream: str, **switches: Any) -> Front:
    front = Front(upstream, **switches)
    front.server.start()
    run.append(front)
    return front


def blobs_of(pushed: PushedImage) -> dict[str, bytes]:
    return {
        blob.digest: blob.data for image in [pushed, *pushed.children] for blob in image.image.blobs
    }


async def test_redirected_blob_reads_carry_no_credentials(
    token_registry: Registry, run: Running
) -> None:
    pushed = push_image(token_registry, "owner/repo/api", "1.0.0", layers=2)
    storage = start_storage(run, blobs_of(pushed))
    front = start_front(run, token_registry.url, storage=storage)
    assert token_registry.credentials is not None
    credentials = RegistryCredentials(*token_registry.credentials)
    layer = pushed.layer_digests[0]
    async with RegistryClient(front.url, credentials=credentials) as client:
        assert await client.get_blob("owner/repo/api", layer) == blobs_of(pushed)[layer]
        assert await client.blob_exists("owner/repo/api", layer)
        labels = await client.image_labels("owner/repo/api", "1.0.0")
    assert labels == [{}]
    # The registry got our token on the blob requests (after the first one's 401)...
    blob_requests = [s for s in front.recorder.seen if "/blobs/" in s.path]
    assert "authorization" not in blob_requests[0].headers
    authorized = blob_requests[1:]
    assert len(authorized) == 3  # get_blob, blob_exists, the config for the labels
    assert all(s.headers.get("authorization", "").startswith("Bearer ") for s in authorized)
    # ...the storage host, on another port, never saw it.
    assert len(storage.recorder.seen) == 3
    assert all("authorization" not in s.headers for s in storage.recorder.seen)
    assert {s.method for s in storage.recorder.seen} == {"GET", "HEAD"}


async def test_a_declined_mount_falls_back_to_copying_the_blob(
    registry: Registry, run: Running
) -> None:
    pushed = push_index(registry, "owner/repo/api", "1.0.0-staging.1", attestation=True)
    front = start_front(run, registry.url, decline_mounts=True)
    async with RegistryClient(front.url) as client:
        result = await client.copy_image(
            "owner/repo/api", "1.0.0-staging.1", "owner/elsewhere/api", "1.0.0"
        )
    assert result.digest == pushed.digest
    assert result.blobs_mounted == 0
    assert result.blobs_copied == len(blobs_of(pushed))
    with RegistrySession(registry) as session:
        for digest in blobs_of(pushed):
            head = session.request("HEAD", f"/v2/owner/elsewhere/api/blobs/{digest}")
            assert head.status_code == 200
        assert session.get_manifest("owner/elsewhere/api", "1.0.0").content == pushed.manifest_bytes


async def test_403_names_the_fix_and_is_not_retried(basic_registry: Registry, run: Running) -> None:
    push_image(basic_registry, "owner/repo/api", "1.0.0")
    front = start_front(run, basic_registry.url, deny_puts=True)
    assert basic_registry.credentials is not None
    credentials = RegistryCredentials(*basic_registry.credentials)
    async with RegistryClient(front.url, credentials=credentials) as client:
        manifest = await client.get_manifest("owner/repo/api", "1.0.0")
        with pytest.raises(PermissionDenied) as caught:
            await client.put_manifest("owner/repo/api", "latest", manifest)
    error = caught.value
    assert error.code == "DENIED"
    assert error.fix is not None
    for needle in ("GHCR_REGISTRY_TOKEN", "packages: write", "Manage Actions access"):
        assert needle in error.fix
    assert sum(1 for s in front.recorder.seen if s.method == "PUT") == 1
