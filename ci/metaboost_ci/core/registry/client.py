"""``RegistryClient``: the OCI distribution API, as much of it as releases need.

Built on ``RegistryTransport`` (authentication, redirects, retries): tag lists
paged, manifests read within the spec's size limit and checked against their
digest, written back byte for byte, config blobs read for their labels.
"""

from __future__ import annotations

from typing import Any, cast

import httpx

from ..errors import HttpStatusError, InputError, NotFound, ResponseTooLarge, TransportError
from ..net import RetryPolicy
from ..progress import Progress
from .auth import RegistryCredentials, repository_scope
from .errors import (
    BlobUnknown,
    ManifestUnknown,
    NameUnknown,
    RegistryProtocolError,
    refine_not_found,
)
from .labels import image_labels
from .links import next_page
from .media import (
    MANIFEST_ACCEPT,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    Descriptor,
    Manifest,
    check_digest,
    check_name,
    check_reference,
    digest_of,
    is_digest,
    verify_digest,
)
from .transport import RegistryTransport, parse_registry_url

# The most tags a tag list may hold before it is refused: far beyond any real
# repository (busy hosted ones reach tens of thousands), yet a bound on a registry
# that announces next pages forever.
MAX_TAGS = 1_000_000


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip()


class RegistryClient(RegistryTransport):
    """A client for one registry (a hosted one, or a local docker-registry)."""

    def __init__(
        self,
        url: str,
        *,
        credentials: RegistryCredentials | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = 1000,
        max_tags: int = MAX_TAGS,
        progress: Progress | None = None,
    ) -> None:
        if page_size < 1 or max_tags < 1:
            raise InputError(
                "page_size and max_tags must be at least 1.",
                fix=f"Pass positive numbers (defaults: 1000 tags a page, {MAX_TAGS} tags).",
            )
        super().__init__(
            url, credentials=credentials, policy=policy, transport=transport, progress=progress
        )
        self.page_size = page_size
        self.max_tags = max_tags

    async def __aenter__(self) -> RegistryClient:
        return self

    # -------------------------------------------------------------------- tags

    async def list_tags(self, name: str) -> list[str]:
        """Every tag of repository ``name``, following pagination.

        Raises ``NameUnknown`` when the repository does not exist. Pages are
        asked for ``page_size`` tags; a registry may send fewer (hosted ones cap
        the page size), so the walk is bounded by what it returns: every page must
        add tags, no page may be announced twice, and at most ``max_tags``
        tags are read.
        """
        check_name(name)
        url = self._endpoint(f"/v2/{name}/tags/list", {"n": str(self.page_size)})
        tags: list[str] = []
        seen = {str(url)}
        pages = largest = 0
        while True:
            try:
                response = await self.send("GET", url, scopes=repository_scope(name))
            except NotFound as exc:
                raise refine_not_found(exc, NameUnknown) from None
            page = _tags_of(response, self.host, name)
            pages += 1
            largest = max(largest, len(page))
            tags += page
            following = next_page(response, url)
            if following is None:
                return tags
            what = f"registry {self.host}: the tag list of {name}"
            if len(tags) > self.max_tags:
                raise RegistryProtocolError(
                    f"{what} has more than {self.max_tags} tags ({pages} pages of up to "
                    f"{largest} tags, the page size the registry sends), and more are announced.",
                    fix="Delete old tags, or raise max_tags if the repository holds that many.",
                )
            if not page or str(following) in seen:
                why = "an empty page" if not page else "a page it already sent"
                raise RegistryProtocolError(
                    f"{what} pages in a loop: page {pages} announces {why} next.",
                    fix="The registry's pagination is broken; report it to its operator.",
                )
            seen.add(str(following))
            url = following

    # --------------------------------------------------------------- manifests

    async def head_manifest(self, name: str, ref: str) -> Descriptor | None:
        """The descriptor ``name:ref`` resolves to, or None when there is none."""
        check_name(name)
        check_reference(ref)
        response = await self.send(
            "HEAD",
            self._endpoint(f"/v2/{name}/manifests/{ref}"),
            scopes=repository_scope(name),
            headers={"accept": MANIFEST_ACCEPT},
            expect=(200, 404),
        )
        if response.status_code == 404:
            return None
        digest = response.headers.get("docker-content-digest")
        length = response.headers.get("content-length", "")
        if digest is None or not is_digest(digest) or not length.isdigit():
            # Not every registry reports these on HEAD; read the manifest instead.
            return (await self.get_manifest(name, ref)).descriptor
        if is_digest(ref) and digest != ref:
            raise RegistryProtocolError(
                f"registry {self.host}: HEAD {name}@{ref} reported digest {digest}.",
                fix="The registry is misbehaving; report it to its operator.",
            )
        return Descriptor(digest, _media_type(response), int(length))

    async def get_manifest(self, name: str, ref: str) -> Manifest:
        """The manifest or index ``name:ref`` as served, its digest verified.

        Raises ``ManifestUnknown`` (or ``NameUnknown``) when it does not exist.
        Reading stops after ``MAX_MANIFEST_BYTES`` (4 MiB, the limit the
        distribution spec lets registries enforce): a longer answer is refused.
        """
        check_name(name)
        check_reference(ref)
        what = f"registry {self.host}: manifest {_image(name, ref)}"
        try:
            response = await self.send(
                "GET",
                self._endpoint(f"/v2/{name}/manifests/{ref}"),
                scopes=repository_scope(name),
                headers={"accept": MANIFEST_ACCEPT},
                max_bytes=MAX_MANIFEST_BYTES,
            )
        except NotFound as exc:
            raise refine_not_found(exc, ManifestUnknown) from None
        except ResponseTooLarge:
            raise RegistryProtocolError(
                f"{what} is larger than {MAX_MANIFEST_BYTES} bytes (4 MiB, the distribution "
                "spec's limit for manifests); reading stopped there.",
                fix="Check the image reference and the registry URL: no image manifest is "
                "that big.",
            ) from None
        content = response.content
        announced = response.headers.get("docker-content-digest")
        if announced is not None and not is_digest(announced):
            announced = None  # not a digest we can check: ignored
        if announced is not None:
            verify_digest(content, announced, what)
        if is_digest(ref):
            verify_digest(content, ref, what)
        digest = ref if is_digest(ref) else announced
        manifest = Manifest.from_bytes(content, _media_type(response) or None)
        if digest is not None and digest != manifest.digest:
            # A sha512 reference: keep the name the caller and registry use.
            manifest = Manifest(content, manifest.media_type, digest)
        if not manifest.media_type:
            raise RegistryProtocolError(
                f"{what} has no media type.",
                fix="The registry served something that is not an image manifest.",
            )
        return manifest

    async def put_manifest(self, name: str, ref: str, manifest: Manifest) -> str:
        """Store ``manifest``'s exact bytes as ``name:ref``; returns its digest.

        Put the same ``Manifest`` to several tags to re-tag without reading
        it again. The Content-Type is the manifest's media type (a registry
        refuses a mismatch with 400 MANIFEST_INVALID).
        """
        check_name(name)
        check_reference(ref)
        if is_digest(ref) and ref != manifest.digest:
            raise InputError(
                f"Cannot store manifest {manifest.digest} under digest {ref}.",
                fix="Put a manifest by its own digest, or by a tag.",
            )
        response = await self.send(
            "PUT",
            self._endpoint(f"/v2/{name}/manifests/{ref}"),
            scopes=repository_scope(name, push=True),
            headers={"content-type": manifest.media_type},
            content=manifest.content,
            expect=(200, 201),
        )
        stored = response.headers.get("docker-content-digest")
        same_algorithm = (
            bool(stored) and stored.partition(":")[0] == manifest.digest.partition(":")[0]
        )
        if same_algorithm and stored != manifest.digest:
            raise RegistryProtocolError(
                f"registry {self.host}: {name}:{ref} was stored as {stored}, "
                f"not {manifest.digest}.",
                fix="The registry rewrote the manifest; it cannot keep image digests.",
            )
        return manifest.digest

    # ------------------------------------------------------------------- blobs

    def _blob_url(self, name: str, digest: str) -> httpx.URL:
        return self._endpoint(f"/v2/{name}/blobs/{digest}")

    async def blob_exists(self, name: str, digest: str) -> bool:
        check_name(name)
        check_digest(digest)
        response = await self.send(
            "HEAD",
            self._blob_url(name, digest),
            scopes=repository_scope(name),
            expect=(200, 404),
            follow_redirects=True,
        )
        return response.status_code == 200

    async def push_blob(self, name: str, data: bytes) -> str:
        """Upload a small blob in one piece (POST, then one PUT); returns its digest.

        Only ``push-sample-images`` writes blobs (promotion re-puts manifests
        within a repository), and its blobs are a few hundred bytes.
        """
        check_name(name)
        digest = digest_of(data)
        opened = self._endpoint(f"/v2/{name}/blobs/uploads/")
        response = await self.send(
            "POST",
            opened,
            scopes=repository_scope(name, push=True),
            expect=(202,),
            content=b"",
            # Opening a second upload session changes nothing anyone sees (an
            # unused one expires), so a retry is safe.
            idempotent=True,
        )
        location = response.headers.get("location")
        if not location:
            raise RegistryProtocolError(
                f"registry {self.host}: the upload was accepted without a Location to send it to.",
                fix="The registry is misbehaving; report it to its operator.",
            )
        try:
            await self.send(
                "PUT",
                opened.join(location).copy_merge_params({"digest": digest}),
                scopes=repository_scope(name, push=True),
                headers={"content-type": "application/octet-stream"},
                content=data,
                expect=(201, 204),
            )
        except (HttpStatusError, TransportError):
            # A retried PUT whose first try completed finds its session gone
            # (404); the blob is there all the same. Read back before failing.
            if not await self.blob_exists(name, digest):
                raise
        return digest

    async def get_blob(self, name: str, digest: str) -> bytes:
        """An image config's bytes, digest verified. Raises ``BlobUnknown`` when missing.

        Held in memory, so only for configs: reading stops after
        ``MAX_CONFIG_BYTES`` (8 MiB) and a longer blob is refused.
        """
        check_name(name)
        check_digest(digest)
        try:
            response = await self._fetch_blob(name, digest)
        except ResponseTooLarge:
            raise RegistryProtocolError(
                f"registry {self.host}: image config {name}@{digest} is larger than "
                f"{MAX_CONFIG_BYTES} bytes (8 MiB, our limit for image configs); "
                "reading stopped there.",
                fix="The image's config is not a real one; rebuild and push the image.",
            ) from None
        verify_digest(response.content, digest, f"registry {self.host}: blob {name}@{digest}")
        return response.content

    async def _fetch_blob(self, name: str, digest: str) -> httpx.Response:
        """GET a blob (storage redirects followed); ``BlobUnknown`` when it is missing."""
        try:
            return await self.send(
                "GET",
                self._blob_url(name, digest),
                scopes=repository_scope(name),
                follow_redirects=True,
                max_bytes=MAX_CONFIG_BYTES,
            )
        except NotFound as exc:
            raise refine_not_found(exc, BlobUnknown) from None

    # ---------------------------------------------------------- whole images

    async def image_labels(
        self, name: str, ref: str, *, source: Manifest | None = None
    ) -> list[dict[str, str]]:
        """The config labels of each runnable image of ``name:ref`` (attestations skipped).

        ``source``: the manifest of ``name:ref`` if the caller already read it
        (the promotion reads it to copy it, and then needs only the config).
        """
        return await image_labels(self, name, ref, source=source)


def _image(name: str, ref: str) -> str:
    """``owner/repo/api:1.2.0`` or ``owner/repo/api@sha256:...``."""
    return f"{name}@{ref}" if is_digest(ref) else f"{name}:{ref}"


def _tags_of(response: httpx.Response, host: str, name: str) -> list[str]:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise RegistryProtocolError(
            f"registry {host}: the tag list of {name} is not a JSON object.",
            fix="Check the registry URL: that is not an OCI registry.",
        )
    # Hosted registries list "tags": null for a repository whose images are all untagged.
    raw: Any = cast(dict[str, Any], body).get("tags")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RegistryProtocolError(
            f"registry {host}: the tag list of {name} has no list of tags.",
            fix="Check the registry URL: that is not an OCI registry.",
        )
    return [str(tag) for tag in cast(list[Any], raw)]


__all__ = ["RegistryClient", "parse_registry_url"]
