"""Whole-image copies and image labels against a real docker-registry 2.8.2."""

from __future__ import annotations

from metaboost_ci.core.registry import RegistryClient, RegistryCredentials
from tests.support.images import (
    REVISION_LABEL,
    PushedImage,
    RegistrySession,
    push_image,
    push_index,
)
from tests.support.registry import Registry, TokenServer


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
