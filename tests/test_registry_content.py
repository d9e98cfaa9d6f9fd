"""Tags, manifests and blobs against a real docker-registry 2.8.2 (and the
GHCR-like paging proxy in front of it)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from metaboost_ci.core.errors import InputError, UnexpectedStatus
from metaboost_ci.core.registry import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    BlobUnknown,
    Manifest,
    ManifestUnknown,
    NameUnknown,
    RegistryClient,
    RegistryProtocolError,
    digest_of,
)
from tests.support.images import build_image, push, push_image, push_index
from tests.support.proxies import Proxy
from tests.support.registry import Registry
from tests.support.registry_front import blobs_of

PagingProxy = Callable[..., Proxy]

# ------------------------------------------------------------------------ tags


def _push_many_tags(registry: Registry, name: str, count: int) -> list[str]:
    tags = [f"1.0.0-staging.{n}" for n in range(count)]
    push(registry, name, build_image(layers=1, layer_size=16), tags)
    return tags


async def test_tags_are_paged_like_ghcr(registry: Registry, paging_proxy: PagingProxy) -> None:
    # One registry for the three cases: pushing 250 tags is the slow part.
    tags = _push_many_tags(registry, "owner/repo/api", 250)
    proxy = paging_proxy(registry)  # pages at 100 unless asked for more, like GHCR

    async with RegistryClient(proxy.url, page_size=100) as client:
        listed = await client.list_tags("owner/repo/api")
    assert sorted(listed) == sorted(tags)
    assert len(listed) == 250  # no tag twice
    paths = [r.path for r in proxy.records]
    assert len(paths) == 3
    assert paths[0] == "/v2/owner/repo/api/tags/list?n=100"
    assert all("last=" in path for path in paths[1:])

    # The default asks for 1000 a page: one request.
    proxy.clear()
    async with RegistryClient(proxy.url) as client:
        assert len(await client.list_tags("owner/repo/api")) == 250
    assert client.requests_sent == 1
    assert proxy.records[0].path == "/v2/owner/repo/api/tags/list?n=1000"

    # A registry that sends fewer than asked (2 of 1000): the walk follows it
    # past 100 pages, as far as it leads.
    capped = paging_proxy(registry, page_cap=2)
    async with RegistryClient(capped.url) as client:
        listed = await client.list_tags("owner/repo/api")
    assert sorted(listed) == sorted(tags)
    assert client.requests_sent == 125

    # The cap on tags, worded with the page size the registry really sends.
    async with RegistryClient(capped.url, max_tags=100) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            await client.list_tags("owner/repo/api")
    assert "has more than 100 tags (51 pages of up to 2 tags, the page size the registry " in str(
        caught.value
    )
    assert caught.value.fix is not None
    assert "max_tags" in caught.value.fix
    assert client.requests_sent == 51


@pytest.mark.parametrize("loop", ["empty page", "same page again"])
async def test_a_tag_list_that_pages_in_a_loop_is_refused(loop: str) -> None:
    # No real registry sends this, so a scripted answer: the refusal is the subject.
    def answer(request: httpx.Request) -> httpx.Response:
        link = '</v2/owner/app/tags/list?last=b&n=1000>; rel="next"'
        tags = [] if loop == "empty page" else ["a", "b"]
        return httpx.Response(200, headers={"link": link}, json={"tags": tags})

    transport = httpx.MockTransport(answer)
    async with RegistryClient("https://registry.example", transport=transport) as client:
        with pytest.raises(RegistryProtocolError, match="pages in a loop") as caught:
            await client.list_tags("owner/app")
    why = "an empty page" if loop == "empty page" else "a page it already sent"
    assert f"announces {why} next" in str(caught.value)
    assert client.requests_sent == (1 if loop == "empty page" else 2)


async def test_a_link_to_another_host_is_refused() -> None:
    # No registry sends this, so a scripted answer: the refusal is the subject.
    def answer(request: httpx.Request) -> httpx.Response:
        link = '<https://elsewhere.example/v2/owner/app/tags/list?last=b>; rel="next"'
        return httpx.Response(200, headers={"link": link}, json={"tags": ["a", "b"]})

    transport = httpx.MockTransport(answer)
    async with RegistryClient("https://registry.example", transport=transport) as client:
        with pytest.raises(RegistryProtocolError, match="another host"):
            await client.list_tags("owner/app")
    assert client.requests_sent == 1


async def test_tags_null_is_an_empty_list(registry: Registry, paging_proxy: PagingProxy) -> None:
    # docker-registry lists "tags": null once the only tagged manifest is deleted,
    # as GHCR does for a package whose versions are all untagged.
    pushed = push_image(registry, "owner/repo/api", "1.0.0")
    async with httpx.AsyncClient() as plain:
        deleted = await plain.delete(f"{registry.url}/v2/owner/repo/api/manifests/{pushed.digest}")
    assert deleted.status_code == 202
    async with RegistryClient(registry.url) as client:
        assert await client.list_tags("owner/repo/api") == []
    async with RegistryClient(paging_proxy(registry).url) as client:
        assert await client.list_tags("owner/repo/api") == []


async def test_unknown_repository(registry: Registry) -> None:
    async with RegistryClient(registry.url) as client:
        with pytest.raises(NameUnknown) as caught:
            await client.list_tags("owner/repo/never-pushed")
    assert caught.value.code == "NAME_UNKNOWN"
    assert caught.value.status == 404
    assert caught.value.fix is not None
    assert "does not exist yet" in caught.value.fix


async def test_bad_input_fails_before_any_request(registry: Registry) -> None:
    async with RegistryClient(registry.url) as client:
        with pytest.raises(InputError):
            await client.list_tags("Owner/Repo")
        with pytest.raises(InputError):
            await client.get_manifest("owner/repo", "bad tag")
        with pytest.raises(InputError):
            await client.get_blob("owner/repo", "sha256:short")
    assert client.requests_sent == 0


# ------------------------------------------------------------------- manifests


@pytest.mark.parametrize(
    ("kind", "media_type"),
    [
        ("oci-image", OCI_MANIFEST),
        ("docker-image", DOCKER_MANIFEST),
        ("oci-index", OCI_INDEX),
        ("docker-list", DOCKER_LIST),
    ],
)
async def test_head_and_get_each_media_type(registry: Registry, kind: str, media_type: str) -> None:
    schema = "docker" if kind.startswith("docker") else "oci"
    if kind.endswith("image"):
        pushed = push_image(registry, "owner/repo/api", "1.0.0", schema=schema)
    else:
        pushed = push_index(registry, "owner/repo/api", "1.0.0", schema=schema)
    async with RegistryClient(registry.url) as client:
        head = await client.head_manifest("owner/repo/api", "1.0.0")
        manifest = await client.get_manifest("owner/repo/api", "1.0.0")
        by_digest = await client.get_manifest("owner/repo/api", pushed.digest)
        head_by_digest = await client.head_manifest("owner/repo/api", pushed.digest)
    assert head is not None
    assert (head.digest, head.media_type, head.size) == (
        pushed.digest,
        media_type,
        len(pushed.manifest_bytes),
    )
    assert head_by_digest == head
    assert manifest.media_type == media_type
    assert manifest.content == pushed.manifest_bytes  # byte for byte
    assert manifest.digest == pushed.digest
    assert by_digest == manifest
    assert manifest.is_index == kind.endswith(("index", "list"))


async def test_unknown_manifest(registry: Registry) -> None:
    push_image(registry, "owner/repo/api", "1.0.0")
    async with RegistryClient(registry.url) as client:
        assert await client.head_manifest("owner/repo/api", "2.0.0") is None
        assert await client.head_manifest("owner/repo/none", "2.0.0") is None
        with pytest.raises(ManifestUnknown) as caught:
            await client.get_manifest("owner/repo/api", "2.0.0")
    assert caught.value.code == "MANIFEST_UNKNOWN"


async def test_put_manifest_to_two_tags_reading_it_once(registry: Registry) -> None:
    pushed = push_index(registry, "owner/repo/api", "1.0.0-staging.2")
    blob_requests = registry.count(None, r"/blobs/")
    async with RegistryClient(registry.url) as client:
        manifest = await client.get_manifest("owner/repo/api", "1.0.0-staging.2")
        assert await client.put_manifest("owner/repo/api", "1.0.0", manifest) == pushed.digest
        assert await client.put_manifest("owner/repo/api", "latest", manifest) == pushed.digest
        assert sorted(await client.list_tags("owner/repo/api")) == [
            "1.0.0",
            "1.0.0-staging.2",
            "latest",
        ]
    assert client.requests_sent == 4
    assert registry.count(None, r"/blobs/") == blob_requests  # a re-tag moves no blobs
    async with httpx.AsyncClient() as plain:
        for tag in ("1.0.0", "latest"):
            head = await plain.head(
                f"{registry.url}/v2/owner/repo/api/manifests/{tag}", headers={"accept": OCI_INDEX}
            )
            assert head.headers["docker-content-digest"] == pushed.digest


async def test_put_with_the_wrong_content_type_surfaces_the_registrys_400(
    registry: Registry,
) -> None:
    pushed = push_image(registry, "owner/repo/api", "1.0.0")
    # The bytes of an OCI manifest declared as a Docker manifest.
    mislabelled = Manifest(pushed.manifest_bytes, DOCKER_MANIFEST, pushed.digest)
    async with RegistryClient(registry.url) as client:
        with pytest.raises(UnexpectedStatus) as caught:
            await client.put_manifest("owner/repo/api", "broken", mislabelled)
    error = caught.value
    assert error.status == 400
    assert error.code == "MANIFEST_INVALID"
    assert "PUT" in str(error)
    assert "/v2/owner/repo/api/manifests/broken" in str(error)
    assert error.fix is not None
    assert "Content-Type" in error.fix
    assert client.requests_sent == 1  # a 400 is not retried


async def test_put_of_a_manifest_whose_blobs_are_missing(registry: Registry) -> None:
    image = build_image()
    async with RegistryClient(registry.url) as client:
        with pytest.raises(UnexpectedStatus) as caught:
            await client.put_manifest(
                "owner/repo/api", "1.0.0", Manifest.from_bytes(image.manifest_bytes)
            )
    assert caught.value.code == "MANIFEST_BLOB_UNKNOWN"
    assert caught.value.fix is not None
    assert "first" in caught.value.fix


async def test_put_by_another_digest_is_refused_before_sending(registry: Registry) -> None:
    manifest = Manifest.from_bytes(build_image().manifest_bytes)
    async with RegistryClient(registry.url) as client:
        with pytest.raises(InputError):
            await client.put_manifest("owner/repo/api", "sha256:" + "0" * 64, manifest)
    assert client.requests_sent == 0


# ----------------------------------------------------------------------- blobs


async def test_get_blob_checks_its_digest_and_names_a_missing_one(registry: Registry) -> None:
    pushed = push_image(registry, "owner/repo/api", "1.0.0", layers=1)
    layer = pushed.layer_digests[0]
    async with RegistryClient(registry.url) as client:
        assert await client.get_blob("owner/repo/api", layer) == blobs_of(pushed)[layer]
        with pytest.raises(BlobUnknown):
            await client.get_blob("owner/repo/api", digest_of(b"never pushed"))
