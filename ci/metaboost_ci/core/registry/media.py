"""Media types, descriptors and manifests: the data the registry client moves.

A manifest is kept as the exact bytes the registry served: its digest is the
sha256 of those bytes, so re-serialising the JSON would change the image's
identity. Parsed views (children, config) are computed from the bytes on demand.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..errors import InputError
from .errors import RegistryProtocolError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
# docker-registry 2.8.2 answers 404 even by digest when the stored manifest's
# type is not acceptable to the client, so always offer all four.
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])

# The distribution spec's grammar for repository names, tags and digests.
_NAME = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
_DIGEST = re.compile(r"(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})")
# A manifest larger than this is refused (the spec lets registries cap at 4 MiB).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# An image config larger than this is refused. Configs hold the history and
# environment: a few KiB, rarely over 100 KiB even for images of hundreds of
# layers (Docker caps image layers at 127). 8 MiB leaves room for any real one.
MAX_CONFIG_BYTES = 8 * 1024 * 1024


def check_name(name: str) -> str:
    if len(name) > 255 or not _NAME.fullmatch(name):
        raise InputError(
            f"{name!r} is not a valid image repository name.",
            fix="Use lowercase letters, digits and separators (. _ -), segments joined "
            "by '/', e.g. owner/repo/api.",
        )
    return name


def is_digest(ref: str) -> bool:
    return _DIGEST.fullmatch(ref) is not None


def check_digest(digest: str) -> str:
    if not is_digest(digest):
        raise InputError(
            f"{digest!r} is not a valid content digest.",
            fix="Give a digest as sha256:<64 lowercase hex digits>.",
        )
    return digest


def check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise InputError(
            f"{tag!r} is not a valid image tag.",
            fix="A tag is 1-128 characters of letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'.",
        )
    return tag


def check_reference(ref: str) -> str:
    """A tag or a digest."""
    return ref if is_digest(ref) else check_tag(ref)


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def verify_digest(data: bytes, expected: str, what: str) -> None:
    """Raise ``RegistryProtocolError`` unless ``data`` hashes to ``expected``."""
    algorithm = expected.partition(":")[0]
    if algorithm not in ("sha256", "sha512"):
        raise RegistryProtocolError(
            f"{what}: the registry announced digest {expected!r} with an unsupported algorithm.",
            fix="Only sha256 and sha512 digests can be verified; use a registry that serves them.",
        )
    actual = digest_of(data, algorithm)
    if actual != expected:
        raise digest_mismatch(what, actual, expected)


def digest_mismatch(what: str, actual: str, expected: str) -> RegistryProtocolError:
    """The error for content that hashes to ``actual`` where ``expected`` was announced."""
    return RegistryProtocolError(
        f"{what}: the bytes received hash to {actual}, not {expected}.",
        fix="The registry or a proxy on the way altered the content; run again, and "
        "report it to the registry's operator if it persists.",
    )


@dataclass(frozen=True)
class Descriptor:
    """What points at a manifest or blob: its digest, media type and size."""

    digest: str
    media_type: str
    size: int
    # Only set on the children of an index: "os/arch[/variant]", e.g. "linux/arm64".
    platform: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict[str, str], compare=False)

    @property
    def is_attestation(self) -> bool:
        """True for the provenance/SBOM children build tools add to an index."""
        return self.platform == "unknown/unknown" or "vnd.docker.reference.type" in self.annotations


@dataclass(frozen=True)
class Manifest:
    """A manifest or index exactly as served: its bytes, media type and digest."""

    content: bytes = field(repr=False)
    media_type: str
    digest: str

    @classmethod
    def from_bytes(cls, content: bytes, media_type: str | None = None) -> Manifest:
        """Wrap bytes built elsewhere (tests, image generators); digest computed here."""
        manifest = cls(content, "", digest_of(content))
        declared = manifest.declared_media_type
        return cls(content, media_type or declared or "", manifest.digest)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.digest, self.media_type, len(self.content))

    def json(self) -> dict[str, Any]:
        try:
            body: Any = json.loads(self.content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise RegistryProtocolError(
                f"Manifest {self.digest} is not a JSON object.",
                fix="The registry served something that is not an image manifest; check "
                "the reference.",
            )
        return cast(dict[str, Any], body)

    @property
    def declared_media_type(self) -> str | None:
        """The ``mediaType`` field inside the JSON (absent in some old manifests)."""
        value = self.json().get("mediaType")
        return value if isinstance(value, str) else None

    def children(self) -> list[Descriptor]:
        """The manifests of an index, attestations included, in order."""
        if not self.is_index:
            return []
        return [_descriptor(entry, self.digest) for entry in _entries(self.json(), "manifests")]

    def config(self) -> Descriptor | None:
        if self.is_index:
            return None
        config = self.json().get("config")
        if not isinstance(config, dict):
            return None
        return _descriptor(cast(Mapping[str, Any], config), self.digest)


def _entries(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = body.get(key)
    if not isinstance(value, list):
        return []
    return [
        cast(Mapping[str, Any], entry)
        for entry in cast(list[Any], value)
        if isinstance(entry, dict)
    ]


def _descriptor(entry: Mapping[str, Any], parent: str) -> Descriptor:
    digest = entry.get("digest")
    media_type = entry.get("mediaType")
    size = entry.get("size")
    if not isinstance(digest, str) or not is_digest(digest) or not isinstance(size, int):
        raise RegistryProtocolError(
            f"Manifest {parent} has a descriptor without a valid digest and size.",
            fix="The manifest is malformed; rebuild and push the image again.",
        )
    platform: str | None = None
    raw_platform = entry.get("platform")
    if isinstance(raw_platform, dict):
        fields = cast(Mapping[str, Any], raw_platform)
        parts = [str(fields.get("os", "")), str(fields.get("architecture", ""))]
        if fields.get("variant"):
            parts.append(str(fields["variant"]))
        platform = "/".join(parts)
    raw_annotations = entry.get("annotations")
    annotations: dict[str, str] = {}
    if isinstance(raw_annotations, dict):
        for key, value in cast(Mapping[str, Any], raw_annotations).items():
            annotations[str(key)] = str(value)
    return Descriptor(
        digest=digest,
        media_type=media_type if isinstance(media_type, str) else "",
        size=size,
        platform=platform,
        annotations=annotations,
    )
