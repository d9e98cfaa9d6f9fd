"""Whole-image copies and image labels against a real docker-registry 2.8.2."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from metaboost_ci.core.errors import TransportError
from metaboost_ci.core.net import RetryPolicy
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.core.registry import (
    BlobUnknown,
    RegistryClient,
    RegistryCredentials,
    RegistryProtocolError,
)
from tests.support.images import (
    REVISION_LABEL,
    PushedImage,
    RegistrySession,
    push_image,
    push_index,
)
from tests.support.ports import LoopbackServer
from tests.support.proxies import Proxy
from tests.support.registry import Registry, TokenServer
from tests.support.registry_front import Front, Storage


def assert_complete(registry: Registry, name: str, pushed: PushedImage) -> None:
    """Every manifest and blob of ``pushed`` is in ``name``, byte for byte."""
    scope = f"repository:{name}:pull"
    with RegistrySession(registry) as session:
        for image in [pushed, *pushed.children]:
            response = session.get_manifest(name, image.digest)
            assert response.status_code == 200, image.digest
            assert response.content == image.manifest_bytes
            for blob in image.image.blobs:
                head = session.request("HEAD", f"/v2/{name}/blobs/{blob.digest}", scope=scope)
                assert head.status_code == 200, blob.digest


async def test_copy_a_multi_layer_image_across_repositories_mounts_blobs(
    registry: Registry,
) -> None:
    pushed = push_image(registry, "owner/repo/api", "1.0.0-staging.4", layers=3)
    async with RegistryClient(registry.url) as client:
        result = await client.copy_image(
            "owner/repo/api", "1.0.0-staging.4", "owner/mirror/api", "1.0.0"
        )
    assert result.digest == pushed.digest
    assert result.written
    assert (result.blobs_mounted, result.blobs_copied) == (4, 0)  # config + 3 layers
    assert_complete(registry, "owner/mirror/api", pushed)
    assert registry.count("POST", r"/v2/owner/mirror/api/blobs/uploads/\?.*mount=") == 4
    assert registry.count("GET", r"/blobs/") == 0  # mounted, not copied through us


async def test_copy_an_index_with_platforms_and_attestations(
    token_registry: Registry, token_server: TokenServer
) -> None:
    pushed = push_index(
        token_registry,
        "owner/repo/web",
        "1.0.0-staging.4",
        platforms=("linux/amd64", "linux/arm64"),
        attestation=True,
        layers=2,
    )
    assert len(pushed.child_digests) == 4  # two images, two attestation manifests
    assert token_registry.credentials is not None
    credentials = RegistryCredentials(*token_registry.credentials)
    async with RegistryClient(token_registry.url, credentials=credentials) as client:
        result = await client.copy_image(
            "owner/repo/web", "1.0.0-staging.4", "owner/other/web", "1.0.0"
        )
        again = await client.copy_image(
            "owner/repo/web", "1.0.0-staging.4", "owner/other/web", "1.0.0"
        )
    assert result.digest == pushed.digest  # the index bytes were never re-serialised
    assert result.manifests_copied == 4  # every child, attestations included
    # Two images x (config + 2 layers) + two attestations x (config + 1 layer).
    assert result.blobs_mounted == 10
    assert_complete(token_registry, "owner/other/web", pushed)
    assert not again.written
    assert client.token_exchanges == 2  # read the source; then one token for the copy


async def test_copy_skips_the_put_when_the_tag_already_has_the_digest(registry: Registry) -> None:
    push_index(registry, "owner/repo/api", ["1.0.0-staging.1", "1.0.0"])
    puts = registry.count("PUT")
    async with RegistryClient(registry.url) as client:
        result = await client.copy_image(
            "owner/repo/api", "1.0.0-staging.1", "owner/repo/api", "1.0.0"
        )
    assert not result.written
    assert client.requests_sent == 2  # GET the source, HEAD the destination; no PUT
    assert registry.count("PUT") == puts


async def test_same_repository_retag_moves_no_blobs(registry: Registry) -> None:
    pushed = push_index(registry, "owner/repo/api", "1.0.0-staging.1")
    blob_requests = registry.count(None, "/blobs/")
    async with RegistryClient(registry.url) as client:
        source = await client.get_manifest("owner/repo/api", "1.0.0-staging.1")
        first = await client.copy_image(
            "owner/repo/api", "1.0.0-staging.1", "owner/repo/api", "1.0.0", source=source
        )
        second = await client.copy_image(
            "owner/repo/api", "1.0.0-staging.1", "owner/repo/api", "latest", source=source
        )
    assert first.written
    assert second.written
    assert first.digest == second.digest == pushed.digest
    # One manifest read, then a HEAD and a PUT per target tag.
    assert client.requests_sent == 5
    assert registry.count(None, "/blobs/") == blob_requests


async def test_image_labels_of_an_index_skip_attestations(registry: Registry) -> None:
    labels = {REVISION_LABEL: "0123456789abcdef0123456789abcdef01234567", "app": "api"}
    push_index(registry, "owner/repo/api", "1.0.0", labels=labels, attestation=True)
    push_image(registry, "owner/repo/web", "1.0.0", labels={REVISION_LABEL: "abc"}, schema="docker")
    async with RegistryClient(registry.url) as client:
        index_labels = await client.image_labels("owner/repo/api", "1.0.0")
        image_labels = await client.image_labels("owner/repo/web", "1.0.0")
    assert index_labels == [labels, labels]  # two platforms; attestations skipped
    assert image_labels == [{REVISION_LABEL: "abc"}]


async def test_image_labels_accepts_the_manifest_already_read(registry: Registry) -> None:
    push_image(registry, "owner/repo/api", "1.0.0", labels={REVISION_LABEL: "abc"})
    async with RegistryClient(registry.url) as client:
        manifest = await client.get_manifest("owner/repo/api", "1.0.0")
        sent = client.requests_sent
        labels = await client.image_labels("owner/repo/api", "1.0.0", source=manifest)
    assert labels == [{REVISION_LABEL: "abc"}]
    assert client.requests_sent - sent == 1  # only the config blob


async def no_sleep(seconds: float) -> None:
    """Retries in these tests wait for nothing: the waits are not what is tested."""


def stored_blob(registry: Registry, name: str, digest: str) -> httpx.Response:
    with RegistrySession(registry) as session:
        return session.request("GET", f"/v2/{name}/blobs/{digest}")


async def test_a_declined_mount_streams_a_big_blob_through_a_disk_spool(
    registry: Registry,
) -> None:
    big = random.Random(0).randbytes(300_000)
    small = b"a config-sized blob"
    async with RegistryClient(registry.url) as direct:
        big_digest = await direct.push_blob("owner/repo/api", big)
        small_digest = await direct.push_blob("owner/repo/api", small)
    with Front(registry.url, decline_mounts=True) as front:
        async with RegistryClient(front.url, spool_memory=64 * 1024) as client:
            assert not await client.mount_blob("owner/mirror/api", small_digest, "owner/repo/api")
            assert client.blobs_spooled_to_disk == 0  # under the limit: stayed in memory
            assert not await client.mount_blob("owner/mirror/api", big_digest, "owner/repo/api")
            assert client.blobs_spooled_to_disk == 1  # over it: went to a file
    for digest, data in ((small_digest, small), (big_digest, big)):
        response = stored_blob(registry, "owner/mirror/api", digest)
        assert response.status_code == 200
        assert response.content == data
    # One monolithic PUT per blob, its length announced, not chunked.
    puts = [s for s in front.recorder.seen if s.method == "PUT"]
    assert [s.headers.get("content-length") for s in puts] == [str(len(small)), str(len(big))]
    assert all("transfer-encoding" not in s.headers for s in puts)


async def test_a_retried_upload_sends_the_spooled_blob_again_from_its_start(
    registry: Registry, fault_proxy: Callable[..., Proxy]
) -> None:
    big = random.Random(1).randbytes(200_000)
    async with RegistryClient(registry.url) as direct:
        digest = await direct.push_blob("owner/repo/api", big)
    with Front(registry.url, decline_mounts=True) as front:
        proxy = fault_proxy(front.url, rate=0.0)
        proxy.inject("drop", method="PUT", path="/blobs/uploads/")
        policy = RetryPolicy(sleep=no_sleep)
        async with RegistryClient(proxy.url, spool_memory=64 * 1024, policy=policy) as client:
            assert not await client.mount_blob("owner/mirror/api", digest, "owner/repo/api")
    assert proxy.count("PUT", faults=True) == 1
    assert proxy.count("PUT", faults=False) == 1
    assert stored_blob(registry, "owner/mirror/api", digest).content == big


async def test_a_copied_blob_with_the_wrong_bytes_is_never_uploaded(registry: Registry) -> None:
    data = b"the layer as pushed" * 1000
    async with RegistryClient(registry.url) as direct:
        digest = await direct.push_blob("owner/repo/api", data)
    # A storage host serving altered bytes for the digest (a broken CDN or proxy).
    corrupted = bytearray(data)
    corrupted[5000] ^= 0xFF
    with (
        Storage({digest: bytes(corrupted)}) as storage,
        Front(registry.url, storage=storage, decline_mounts=True) as front,
    ):
        async with RegistryClient(front.url, spool_memory=4096) as client:
            with pytest.raises(RegistryProtocolError) as caught:
                await client.mount_blob("owner/mirror/api", digest, "owner/repo/api")
    message = str(caught.value)
    assert digest in message
    assert "nothing was uploaded" in message
    assert caught.value.fix is not None
    methods = [s.method for s in front.recorder.seen if "/owner/mirror/" in s.path]
    assert "PUT" not in methods
    assert methods[-1] == "DELETE"  # the upload session is closed, not left open
    assert stored_blob(registry, "owner/mirror/api", digest).status_code == 404


class CuttingStorage(Storage):
    """A storage host whose first blob answer breaks off halfway through the body."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        super().__init__(blobs)
        self.cut = 1
        storage = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                storage.recorder.add(self)
                data = storage.blobs[self.path.split("?")[0].rsplit("/", 1)[-1]]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if storage.cut > 0:
                    storage.cut -= 1
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = LoopbackServer(Handler)
        self.url = self.server.url


async def test_a_blob_download_cut_off_midway_starts_over(registry: Registry) -> None:
    big = random.Random(2).randbytes(200_000)
    async with RegistryClient(registry.url) as direct:
        digest = await direct.push_blob("owner/repo/api", big)
    with (
        CuttingStorage({digest: big}) as storage,
        Front(registry.url, storage=storage, decline_mounts=True) as front,
    ):
        policy = RetryPolicy(sleep=no_sleep)
        progress = RecordingProgress()
        async with RegistryClient(
            front.url, spool_memory=64 * 1024, policy=policy, progress=progress
        ) as client:
            assert not await client.mount_blob("owner/mirror/api", digest, "owner/repo/api")
    assert [s.method for s in storage.recorder.seen] == ["GET", "GET"]  # cut, then whole
    # The restart is announced once, as people would want to see it.
    restarts = [line for line in progress.lines if "broke off mid-body" in line]
    assert len(restarts) == 1
    assert "retry 1 of" in restarts[0]
    puts = [s for s in front.recorder.seen if s.method == "PUT"]
    assert [s.headers.get("content-length") for s in puts] == [str(len(big))]
    assert stored_blob(registry, "owner/mirror/api", digest).content == big


async def test_a_cut_off_download_stops_at_the_policys_total_time(registry: Registry) -> None:
    big = random.Random(3).randbytes(200_000)
    async with RegistryClient(registry.url) as direct:
        digest = await direct.push_blob("owner/repo/api", big)
    ticks = itertools.count(step=100.0)  # every look at the clock: 100 s later
    policy = RetryPolicy(sleep=no_sleep, total_seconds=50.0, clock=lambda: next(ticks))
    with (
        CuttingStorage({digest: big}) as storage,
        Front(registry.url, storage=storage, decline_mounts=True) as front,
    ):
        async with RegistryClient(front.url, spool_memory=64 * 1024, policy=policy) as client:
            with pytest.raises(TransportError):
                await client.mount_blob("owner/mirror/api", digest, "owner/repo/api")
    assert [s.method for s in storage.recorder.seen] == ["GET"]  # no second try
    assert not [s for s in front.recorder.seen if s.method == "PUT"]


async def test_a_copy_whose_source_lacks_the_blob_closes_the_upload_session(
    registry: Registry,
) -> None:
    async with RegistryClient(registry.url) as direct:
        digest = await direct.push_blob("owner/other/api", b"a blob only owner/other has")
    with Front(registry.url, decline_mounts=True) as front:
        async with RegistryClient(front.url) as client:
            with pytest.raises(BlobUnknown):
                await client.mount_blob("owner/mirror/api", digest, "owner/repo/api")
    methods = [s.method for s in front.recorder.seen if "/owner/mirror/" in s.path]
    assert methods == ["POST", "DELETE"]  # the session opened by the mount is closed
