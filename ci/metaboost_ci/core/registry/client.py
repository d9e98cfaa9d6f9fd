"""``RegistryClient``: the OCI distribution API, as much of it as releases need.

Every request goes through ``core.net.HttpClient`` (retries, classification,
redaction); this module adds the registry's own rules: authentication (see
``auth``), redirects followed by hand so credentials never leave the registry's
host, digests verified on every manifest and blob read, tag lists paged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, cast

import httpx

from ..errors import InputError, NotFound
from ..net import HttpClient, RetryPolicy
from ..net.http import error_code_and_detail
from ..progress import Progress
from ..redact import register_secret
from .auth import Authenticator, RegistryCredentials, Scopes, registry_hints, repository_scope
from .errors import (
    BlobUnknown,
    ManifestUnknown,
    NameUnknown,
    RegistryProtocolError,
    refine_not_found,
)
from .labels import image_labels
from .links import next_page, same_origin
from .media import (
    MANIFEST_ACCEPT,
    MAX_MANIFEST_BYTES,
    Descriptor,
    Manifest,
    check_digest,
    check_name,
    check_reference,
    is_digest,
    verify_digest,
)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
# Three tries at most per request: as sent, after a first token exchange, after
# one re-exchange of a cached token (see Authenticator.after_unauthorized).
_MAX_AUTH_ROUNDS = 3


def parse_registry_url(url: str) -> httpx.URL:
    """``ghcr.io`` -> ``https://ghcr.io``; ``http://127.0.0.1:5000`` stays http."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parsed = httpx.URL(text)
    shown = url
    if parsed.userinfo:
        # A token pasted into the URL is a credential: register it, and show
        # the URL without it (``redact``'s URL shape needs a scheme and a
        # password, which "TOKEN@ghcr.io" has neither of).
        # With no password, the user part is the token ("TOKEN@ghcr.io").
        register_secret(parsed.password or parsed.username)
        shown = str(parsed.copy_with(username=None, password=None))
    problem = None
    if parsed.scheme not in ("http", "https"):
        problem = f"its scheme {parsed.scheme!r} is not http or https"
    elif not parsed.host:
        problem = "it names no host"
    elif parsed.userinfo:
        problem = "it contains credentials"
    elif parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        problem = "it has a path or query (the image name goes elsewhere)"
    if problem:
        raise InputError(
            f"Registry URL {shown!r} is not usable: {problem}.",
            fix="Give --registry as host[:port] or https://host[:port] "
            "(http://host:port for a local registry); credentials go in the token settings.",
        )
    return parsed.copy_with(path="/", query=None, fragment=None)


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip()


class RegistryClient:
    """A client for one registry (ghcr.io, or a local docker-registry)."""

    def __init__(
        self,
        url: str,
        *,
        credentials: RegistryCredentials | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = 1000,
        max_pages: int = 100,
        progress: Progress | None = None,
    ) -> None:
        if page_size < 1 or max_pages < 1:
            raise InputError(
                "page_size and max_pages must be at least 1.",
                fix="Pass positive numbers (defaults: 1000 tags a page, 100 pages).",
            )
        self.url = parse_registry_url(url)
        self.host = self.url.netloc.decode()
        self.page_size = page_size
        self.max_pages = max_pages
        self._http = HttpClient(
            service=f"registry {self.host}",
            policy=policy,
            hints=_hints,
            transport=transport,
            headers={"user-agent": "metaboost-ci"},
            progress=progress,
        )
        # Token lifetimes are measured on the retry policy's clock: one time
        # source to fake in tests.
        self._auth = Authenticator(
            self._http,
            registry_url=self.url,
            credentials=credentials,
            clock=self._http.policy.clock,
        )

    # ----------------------------------------------------------------- basics

    @property
    def requests_sent(self) -> int:
        """HTTP requests put on the wire so far: retries and token exchanges included."""
        return self._http.requests_sent

    @property
    def token_exchanges(self) -> int:
        """Token exchanges made so far (each is also counted in ``requests_sent``)."""
        return self._auth.exchanges

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _endpoint(self, path: str, params: Mapping[str, str] | None = None) -> httpx.URL:
        url = self.url.copy_with(path=path)
        return url.copy_merge_params(dict(params)) if params else url

    async def authorize(self, *, pull: Iterable[str] = (), push: Iterable[str] = ()) -> None:
        """Get one token covering a sequence of operations, before they start.

        Optional, it only saves round trips: without it each operation asks for
        the narrowest token it needs (pull to read, pull,push to write), so a
        read then a write costs two exchanges. Costs one ``GET /v2/`` when the
        registry's challenge is not known yet, and nothing when the registry
        wants no token (anonymous or Basic).
        """
        scopes: dict[str, frozenset[str]] = {}
        for name in pull:
            scopes[check_name(name)] = frozenset({"pull"}) | scopes.get(name, frozenset())
        for name in push:
            scopes[check_name(name)] = frozenset({"pull", "push"})
        if not scopes:
            return
        if self._auth.challenge is None:
            if self._auth.open_without_auth:
                return  # requests succeed without credentials here
            probe = await self._http.request("GET", self._endpoint("/v2/"), expect=(200, 401))
            if probe.status_code == 200:
                self._auth.open_without_auth = True
                return
            self._auth.learn(probe)
        await self._auth.authorization(scopes)

    # --------------------------------------------------------------- transport

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        *,
        scopes: Scopes,
        expect: Collection[int] = (200,),
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        idempotent: bool | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Send with authentication; follow redirects ourselves when asked.

        httpx would carry the Authorization header along a redirect to another
        host; GHCR redirects blob reads to a storage host, which must never see
        our token. So each hop is sent by us: with credentials on the
        registry's origin, without them anywhere else.
        """
        target = url
        accept: set[int] = set(expect) | (set(_REDIRECTS) if follow_redirects else set[int]())
        for _ in range(_MAX_REDIRECTS + 1):
            if same_origin(target, self.url):
                response = await self._authenticated(
                    method, target, scopes, accept, headers, content, idempotent
                )
            else:
                response = await self._http.request(
                    method,
                    target,
                    headers=headers,
                    content=content,
                    expect=accept,
                    idempotent=idempotent,
                )
            if response.status_code in expect or response.status_code not in _REDIRECTS:
                return response
            location = response.headers.get("location")
            next_target = target.join(location) if location else None
            if next_target is None or next_target.scheme not in ("http", "https"):
                raise RegistryProtocolError(
                    f"registry {self.host}: {method} answered {response.status_code} "
                    "without a usable Location.",
                    fix="The registry or a proxy is misconfigured; check the registry URL.",
                )
            target = next_target
        raise RegistryProtocolError(
            f"registry {self.host}: {method} was redirected more than {_MAX_REDIRECTS} times.",
            fix="The registry or a proxy is misconfigured; check the registry URL.",
        )

    async def _authenticated(
        self,
        method: str,
        url: httpx.URL,
        scopes: Scopes,
        expect: Collection[int],
        headers: Mapping[str, str] | None,
        content: bytes | None,
        idempotent: bool | None,
    ) -> httpx.Response:
        auth = await self._auth.authorization(scopes)
        rounds = 0
        while True:
            rounds += 1
            send = dict(headers or {})
            if auth is not None:
                send["authorization"] = auth.header
            response = await self._http.request(
                method,
                url,
                headers=send,
                content=content,
                expect={*expect, 401},
                idempotent=idempotent,
            )
            if response.status_code != 401 or 401 in expect:
                if auth is None and response.status_code < 400:
                    self._auth.open_without_auth = True
                return response
            auth = await self._auth.after_unauthorized(response, auth, scopes)
            if auth is None or rounds >= _MAX_AUTH_ROUNDS:
                raise self._http.error_for(method, url, response)

    # -------------------------------------------------------------------- tags

    async def list_tags(self, name: str) -> list[str]:
        """Every tag of repository ``name``, following pagination.

        Raises ``NameUnknown`` when the repository does not exist.
        """
        check_name(name)
        url = self._endpoint(f"/v2/{name}/tags/list", {"n": str(self.page_size)})
        tags: list[str] = []
        for _ in range(self.max_pages):
            try:
                response = await self._send("GET", url, scopes=repository_scope(name))
            except NotFound as exc:
                raise refine_not_found(exc, NameUnknown) from None
            tags += _tags_of(response, self.host, name)
            following = next_page(response, url)
            if following is None:
                return tags
            url = following
        raise RegistryProtocolError(
            f"registry {self.host}: the tag list of {name} has more than {self.max_pages} pages "
            f"of up to {self.page_size} tags.",
            fix="Delete old tags, or raise max_pages if the repository really has that many.",
        )

    # --------------------------------------------------------------- manifests

    async def head_manifest(self, name: str, ref: str) -> Descriptor | None:
        """The descriptor ``name:ref`` resolves to, or None when there is none."""
        check_name(name)
        check_reference(ref)
        response = await self._send(
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
        """
        check_name(name)
        check_reference(ref)
        try:
            response = await self._send(
                "GET",
                self._endpoint(f"/v2/{name}/manifests/{ref}"),
                scopes=repository_scope(name),
                headers={"accept": MANIFEST_ACCEPT},
            )
        except NotFound as exc:
            raise refine_not_found(exc, ManifestUnknown) from None
        content = response.content
        what = f"registry {self.host}: manifest {name}:{ref}"
        if len(content) > MAX_MANIFEST_BYTES:
            raise RegistryProtocolError(
                f"{what} is {len(content)} bytes, over the {MAX_MANIFEST_BYTES} byte limit.",
                fix="Check the reference: that is not an image manifest.",
            )
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
        response = await self._send(
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

    async def get_blob(self, name: str, digest: str) -> bytes:
        """A blob's bytes, digest verified. Raises ``BlobUnknown`` when missing.

        The whole blob is held in memory: for configs and other small blobs.
        """
        check_name(name)
        check_digest(digest)
        response = await self._fetch_blob(name, digest)
        verify_digest(response.content, digest, f"registry {self.host}: blob {name}@{digest}")
        return response.content

    async def _fetch_blob(self, name: str, digest: str) -> httpx.Response:
        """GET a blob (storage redirects followed); ``BlobUnknown`` when it is missing."""
        try:
            return await self._send(
                "GET",
                self._blob_url(name, digest),
                scopes=repository_scope(name),
                follow_redirects=True,
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
    # GHCR lists "tags": null for a package whose versions are all untagged.
    raw: Any = cast(dict[str, Any], body).get("tags")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RegistryProtocolError(
            f"registry {host}: the tag list of {name} has no list of tags.",
            fix="Check the registry URL: that is not an OCI registry.",
        )
    return [str(tag) for tag in cast(list[Any], raw)]


def _hints(response: httpx.Response) -> str | None:
    code, _ = error_code_and_detail(response)
    if code == "MANIFEST_INVALID":
        return (
            "Send the manifest's exact bytes with Content-Type equal to its mediaType, "
            "after every blob and child manifest it references is in the repository."
        )
    if code in ("MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN") and response.status_code == 400:
        return "Push every blob and child manifest the manifest references first."
    if code == "NAME_UNKNOWN":
        return (
            "The repository does not exist yet (nothing was ever pushed to it), "
            "or the token cannot see it."
        )
    return registry_hints(response)
