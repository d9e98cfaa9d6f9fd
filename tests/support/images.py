"""Make test images and push them WITHOUT the project's registry client (it is
the thing under test): plain httpx calls of the distribution API, or skopeo.

Images are built in memory (random-content tar.gz layers, a config with
``config.Labels``, a manifest) and pushed blob by blob (monolithic upload:
POST then PUT), then manifests bottom-up. The digest of every manifest is the
sha256 of the exact bytes pushed. Manifests are indented JSON on purpose: a
client that re-serialises them changes their digest, and tests notice.

    image = push_image(registry, "owner/app", "1.0.0", labels={...})
    index = push_index(registry, "owner/app", "1.0.0-staging.1")
"""

from __future__ import annotations

import atexit
import base64
import gzip
import hashlib
import io
import json
import os
import random
import re
import subprocess
import tarfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack

import httpx

from .registry_process import Registry, require_tool

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
# docker-registry 2.8.2 answers 404 for a manifest whose type is not accepted.
ACCEPT_ALL = ", ".join(MANIFEST_TYPES)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
IN_TOTO = "application/vnd.in-toto+json"
REVISION_LABEL = "org.opencontainers.image.revision"

Schema = Literal["oci", "docker"]
_CREATED = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", sha256_digest(self.data))

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class Image:
    """A manifest (image or index) built in memory with everything it refers to.

    ``platform`` is ``"os/arch[/variant]"`` for an index child (``"unknown/unknown"``
    for an attestation), None for a top-level manifest. ``children`` are an
    index's manifests in index order; ``blobs`` are this manifest's own config
    and layers (empty for an index).
    """

    media_type: str
    manifest_bytes: bytes
    blobs: tuple[Blob, ...] = ()
    children: tuple[Image, ...] = ()
    platform: str | None = None
    config_digest: str | None = None
    layer_digests: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict[str, str])
    # What an index says about this child besides its platform (attestations).
    annotations: Mapping[str, str] = field(default_factory=dict[str, str])

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest_bytes)

    @property
    def size(self) -> int:
        return len(self.manifest_bytes)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def child_digests(self) -> tuple[str, ...]:
        return tuple(child.digest for child in self.children)

    def walk(self) -> Iterable[Image]:
        """Children first, then this manifest: the order a push must follow."""
        for child in self.children:
            yield from child.walk()
        yield self


@dataclass(frozen=True)
class PushedImage:
    """An image as pushed: where (``host``, ``name``, ``tags``) and what (``image``).

    ``digest``, ``media_type``, ``manifest_bytes``, ``config_digest``,
    ``layer_digests``, ``children`` (PushedImage each), ``child_digests`` and
    ``platform`` read through to the image.
    """

    host: str
    name: str
    tags: tuple[str, ...]
    image: Image

    @property
    def tag(self) -> str | None:
        return self.tags[0] if self.tags else None

    @property
    def digest(self) -> str:
        return self.image.digest

    @property
    def media_type(self) -> str:
        return self.image.media_type

    @property
    def manifest_bytes(self) -> bytes:
        return self.image.manifest_bytes

    @property
    def config_digest(self) -> str | None:
        return self.image.config_digest

    @property
    def layer_digests(self) -> tuple[str, ...]:
        return self.image.layer_digests

    @property
    def platform(self) -> str | None:
        return self.image.platform

    @property
    def child_digests(self) -> tuple[str, ...]:
        return self.image.child_digests

    @property
    def children(self) -> tuple[PushedImage, ...]:
        return tuple(PushedImage(self.host, self.name, (), child) for child in self.image.children)

    @property
    def reference(self) -> str:
        """``host/name@sha256:...``"""
        return f"{self.host}/{self.name}@{self.digest}"


def sha256_digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


# -- building ------------------------------------------------------------------


def build_image(
    *,
    layers: int = 2,
    labels: Mapping[str, str] | None = None,
    layer_size: int = 1024,
    platform: str = "linux/amd64",
    schema: Schema = "oci",
    seed: int | None = None,
) -> Image:
    """One single-platform image; ``seed`` makes its content (and digest) reproducible."""
    rng = random.Random(seed) if seed is not None else None
    oci = schema == "oci"
    layer_blobs: list[Blob] = []
    diff_ids: list[str] = []
    for number in range(layers):
        tar = _layer_tar(f"layer-{number}.bin", _random_bytes(rng, layer_size))
        diff_ids.append(sha256_digest(tar))
        layer_blobs.append(Blob(OCI_LAYER if oci else DOCKER_LAYER, gzip.compress(tar, mtime=0)))
    os_name, arch, variant = _split_platform(platform)
    config: dict[str, Any] = {
        "created": _CREATED,
        "architecture": arch,
        "os": os_name,
        **({"variant": variant} if variant else {}),
        "config": {"Labels": dict(labels or {})},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": _CREATED, "created_by": "tests/support/images.py"}] * layers,
    }
    config_blob = Blob(OCI_CONFIG if oci else DOCKER_CONFIG, _pretty(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
        "config": config_blob.descriptor(),
        "layers": [blob.descriptor() for blob in layer_blobs],
    }
    return Image(
        media_type=OCI_MANIFEST if oci else DOCKER_MANIFEST,
        manifest_bytes=_pretty(manifest),
        blobs=(config_blob, *layer_blobs),
        config_digest=config_blob.digest,
        layer_digests=tuple(blob.digest for blob in layer_blobs),
        labels=dict(labels or {}),
    )


def build_index(
    *,
    platforms: Sequence[str] = ("linux/amd64", "linux/arm64"),
    attestation: bool | None = None,
    labels: Mapping[str, str] | None = None,
    layers: int = 1,
    layer_size: int = 1024,
    schema: Schema = "oci",
    seed: int | None = None,
) -> Image:
    """A multi-platform index like buildx makes: one image per platform, and (OCI
    only, the default there) one attestation manifest per platform image with
    platform ``unknown/unknown`` and ``vnd.docker.reference.type: attestation-manifest``.
    """
    oci = schema == "oci"
    if attestation is None:
        attestation = oci
    if attestation and not oci:
        raise ValueError("attestation manifests need an OCI index (schema='oci')")
    children: list[Image] = []
    for number, platform in enumerate(platforms):
        child_seed = None if seed is None else seed * 1000 + number
        image = build_image(
            layers=layers,
            labels=labels,
            layer_size=layer_size,
            platform=platform,
            schema=schema,
            seed=child_seed,
        )
        children.append(_with_platform(image, platform))
    if attestation:
        children += [_attestation_for(child) for child in list(children)]
    descriptors: list[dict[str, Any]] = []
    for child in children:
        descriptor: dict[str, Any] = {
            "mediaType": child.media_type,
            "digest": child.digest,
            "size": child.size,
            "platform": _platform_object(child.platform or "unknown/unknown"),
        }
        if child.annotations:
            descriptor["annotations"] = dict(child.annotations)
        descriptors.append(descriptor)
    media_type = OCI_INDEX if oci else DOCKER_LIST
    index = {"schemaVersion": 2, "mediaType": media_type, "manifests": descriptors}
    return Image(
        media_type=media_type,
        manifest_bytes=_pretty(index),
        children=tuple(children),
        labels=dict(labels or {}),
    )


def _with_platform(image: Image, platform: str) -> Image:
    return Image(
        media_type=image.media_type,
        manifest_bytes=image.manifest_bytes,
        blobs=image.blobs,
        platform=platform,
        config_digest=image.config_digest,
        layer_digests=image.layer_digests,
        labels=image.labels,
    )


def _attestation_for(subject: Image) -> Image:
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "_", "digest": {"sha256": subject.digest.removeprefix("sha256:")}}],
        "predicate": {"builder": {"id": "tests/support/images.py"}},
    }
    layer = Blob(IN_TOTO, _pretty(statement))
    config = Blob(
        OCI_CONFIG,
        _pretty(
            {
                "architecture": "unknown",
                "os": "unknown",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
            }
        ),
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [
            layer.descriptor(annotations={"in-toto.io/predicate-type": statement["predicateType"]})
        ],
    }
    return Image(
        media_type=OCI_MANIFEST,
        manifest_bytes=_pretty(manifest),
        blobs=(config, layer),
        platform="unknown/unknown",
        config_digest=config.digest,
        layer_digests=(layer.digest,),
        annotations={
            "vnd.docker.reference.digest": subject.digest,
            "vnd.docker.reference.type": "attestation-manifest",
        },
    )


def _split_platform(platform: str) -> tuple[str, str, str | None]:
    parts = platform.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"platform must be os/arch[/variant], got {platform!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _platform_object(platform: str) -> dict[str, str]:
    os_name, arch, variant = _split_platform(platform)
    value = {"architecture": arch, "os": os_name}
    if variant:
        value["variant"] = variant
    return value


def _random_bytes(rng: random.Random | None, size: int) -> bytes:
    return rng.randbytes(size) if rng is not None else os.urandom(size)


def _layer_tar(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _pretty(value: Any) -> bytes:
    return json.dumps(value, indent=2).encode()


# -- pushing -------------------------------------------------------------------


_CLIENT: list[httpx.Client] = []
_CLIENT_LOCK = threading.Lock()


def _shared_client() -> httpx.Client:
    """One client for all pushes: creating an httpx.Client costs 5-50 ms (TLS
    context), more than pushing a small image. Loopback plain HTTP only."""
    with _CLIENT_LOCK:
        if not _CLIENT:
            _CLIENT.append(httpx.Client(verify=False, timeout=30))  # noqa: S501 (plain http)
            atexit.register(_CLIENT[0].close)
        return _CLIENT[0]


class RegistrySession:
    """Minimal authenticated HTTP access to one registry, for fixtures only:
    answers Basic and Bearer challenges with the registry's credentials."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._client = _shared_client()
        self._tokens: dict[str, str] = {}
        self._authorization: str | None = None

    def __enter__(self) -> RegistrySession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass  # The client is shared (see ``_shared_client``).

    def request(
        self, method: str, url: str, *, scope: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers: dict[str, str] = dict(kwargs.pop("headers", {}) or {})
        if url.startswith("/"):
            url = self.registry.url + url
        token = self._tokens.get(scope or "")
        if token is not None:
            headers["Authorization"] = token
        elif self._authorization is not None:
            headers["Authorization"] = self._authorization
        response = self._client.request(method, url, headers=headers, **kwargs)
        if response.status_code != 401:
            return response
        authorization = self._answer_challenge(response, scope)
        if authorization is None:
            return response
        headers["Authorization"] = authorization
        return self._client.request(method, url, headers=headers, **kwargs)

    def _answer_challenge(self, response: httpx.Response, scope: str | None) -> str | None:
        challenge = response.headers.get("www-authenticate", "")
        scheme, _, params_text = challenge.partition(" ")
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        credentials = self.registry.credentials
        if scheme.lower() == "basic" and credentials is not None:
            user_pass = ":".join(credentials).encode()
            self._authorization = f"Basic {base64.b64encode(user_pass).decode()}"
            return self._authorization
        if scheme.lower() == "bearer" and "realm" in params:
            query = {"service": params.get("service", "")}
            wanted = scope or params.get("scope")
            if wanted:
                query["scope"] = wanted
            auth = httpx.BasicAuth(*credentials) if credentials else None
            answer = self._client.get(params["realm"], params=query, auth=auth)
            answer.raise_for_status()
            body = answer.json()
            authorization = f"Bearer {body.get('token') or body['access_token']}"
            self._tokens[scope or ""] = authorization
            return authorization
        return None

    def push_blob(self, name: str, blob: Blob) -> None:
        scope = _push_scope(name)
        started = self.request("POST", f"/v2/{name}/blobs/uploads/", scope=scope)
        _expect(started, 202, f"start upload of {blob.digest} to {name}")
        location = started.headers["location"]
        separator = "&" if "?" in location else "?"
        finished = self.request(
            "PUT",
            f"{location}{separator}digest={blob.digest}",
            scope=scope,
            content=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        _expect(finished, 201, f"finish upload of {blob.digest} to {name}")

    def put_manifest(self, name: str, reference: str, image: Image) -> None:
        response = self.request(
            "PUT",
            f"/v2/{name}/manifests/{reference}",
            scope=_push_scope(name),
            content=image.manifest_bytes,
            headers={"Content-Type": image.media_type},
        )
        _expect(response, 201, f"put manifest {name}:{reference}")
        returned = response.headers.get("docker-content-digest")
        if returned != image.digest:
            raise AssertionError(f"registry stored {returned}, expected {image.digest}")

    def get_manifest(self, name: str, reference: str) -> httpx.Response:
        return self.request(
            "GET",
            f"/v2/{name}/manifests/{reference}",
            scope=f"repository:{name}:pull",
            headers={"Accept": ACCEPT_ALL},
        )

    def tags(self, name: str) -> list[str]:
        response = self.request("GET", f"/v2/{name}/tags/list", scope=f"repository:{name}:pull")
        if response.status_code == 404:
            return []
        _expect(response, 200, f"list tags of {name}")
        return list(response.json().get("tags") or [])


def push(
    registry: Registry,
    name: str,
    image: Image,
    tags: str | Sequence[str] | None = (),
) -> PushedImage:
    """Push ``image`` (and for an index, every child) to ``name``; then tag it.

    With no tags, the top manifest is pushed by digest only.
    """
    tag_list = (tags,) if isinstance(tags, str) else tuple(tags or ())
    with RegistrySession(registry) as session:
        for manifest in image.walk():
            for blob in manifest.blobs:
                session.push_blob(name, blob)
            if manifest is not image or not tag_list:
                session.put_manifest(name, manifest.digest, manifest)
        for tag in tag_list:
            session.put_manifest(name, tag, image)
    return PushedImage(registry.host, name, tag_list, image)


class ImageOptions(TypedDict, total=False):
    """``build_image``'s keywords (its defaults apply to what is left out)."""

    layers: int
    labels: Mapping[str, str] | None
    layer_size: int
    platform: str
    schema: Schema
    seed: int | None


class IndexOptions(TypedDict, total=False):
    """``build_index``'s keywords (its defaults apply to what is left out)."""

    platforms: Sequence[str]
    attestation: bool | None
    labels: Mapping[str, str] | None
    layers: int
    layer_size: int
    schema: Schema
    seed: int | None


def push_image(
    registry: Registry,
    name: str,
    tag: str | Sequence[str] | None,
    **options: Unpack[ImageOptions],
) -> PushedImage:
    """Build (``build_image``; ``schema="docker"``: Docker v2 schema 2) and push one image."""
    return push(registry, name, build_image(**options), tag)


def push_index(
    registry: Registry,
    name: str,
    tag: str | Sequence[str] | None,
    **options: Unpack[IndexOptions],
) -> PushedImage:
    """Build (``build_index``) and push a multi-platform index."""
    return push(registry, name, build_index(**options), tag)


def tag_image(
    registry: Registry, name: str, image: PushedImage | Image, tags: str | Sequence[str]
) -> None:
    """Point ``name:tag`` (each of ``tags``) at an image already in ``name``:
    PUT the same manifest bytes, as a same-repository re-tag does."""
    built = image.image if isinstance(image, PushedImage) else image
    with RegistrySession(registry) as session:
        for tag in (tags,) if isinstance(tags, str) else tags:
            session.put_manifest(name, tag, built)


def list_tags(registry: Registry, name: str) -> list[str]:
    """The repository's tags straight from the registry (sorted; [] if none)."""
    with RegistrySession(registry) as session:
        return sorted(session.tags(name))


def fetch_manifest(registry: Registry, name: str, reference: str) -> httpx.Response:
    """GET a manifest with every manifest type in Accept."""
    with RegistrySession(registry) as session:
        return session.get_manifest(name, reference)


def manifest_digest(registry: Registry, name: str, reference: str) -> str | None:
    """The digest ``name:reference`` resolves to in the registry; None when it is absent."""
    response = fetch_manifest(registry, name, reference)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.headers["docker-content-digest"]


# -- OCI layouts and skopeo ----------------------------------------------------


def write_oci_layout(image: Image, directory: Path, ref: str = "latest") -> Path:
    """Write ``image`` as an OCI image layout (``oci:DIR:REF`` for skopeo)."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for manifest in image.walk():
        for blob in manifest.blobs:
            (blobs / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
        (blobs / manifest.digest.removeprefix("sha256:")).write_bytes(manifest.manifest_bytes)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    top = {
        "mediaType": image.media_type,
        "digest": image.digest,
        "size": image.size,
        "annotations": {"org.opencontainers.image.ref.name": ref},
    }
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return directory


def skopeo_push(registry: Registry, layout: Path, name: str, tag: str, ref: str = "latest") -> None:
    """``skopeo copy --all`` an OCI layout to ``registry`` (keeps digests)."""
    skopeo = require_tool("skopeo", "apt-get install skopeo")
    command = [skopeo, "copy", "--all", "--preserve-digests", "--quiet"]
    command += ["--dest-tls-verify=false"]
    if registry.credentials is not None:
        command += ["--dest-creds", ":".join(registry.credentials)]
    command += [f"oci:{layout}:{ref}", f"docker://{registry.host}/{name}:{tag}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"skopeo copy failed: {result.stderr.strip()}")


def _push_scope(name: str) -> str:
    return f"repository:{name}:pull,push"


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise AssertionError(
            f"{what}: expected {status}, got {response.status_code} {response.text[:300]}"
        )
