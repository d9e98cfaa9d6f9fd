"""The labels of an image's runnable configs (to check provenance).

``org.opencontainers.image.revision`` tells which commit an image was built
from; the promotion checks it. An index's attestation children have no config
labels worth reading, so they are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from .errors import RegistryProtocolError
from .media import Manifest


class ImageReader(Protocol):
    """What reading labels needs of a registry client (``RegistryClient`` is one)."""

    @property
    def host(self) -> str: ...

    async def get_manifest(self, name: str, ref: str) -> Manifest: ...

    async def get_blob(self, name: str, digest: str) -> bytes: ...


# An index of indexes of ... is legal but never deep; this bounds a malicious loop.
_MAX_DEPTH = 4


async def image_labels(
    client: ImageReader, name: str, ref: str, *, source: Manifest | None = None
) -> list[dict[str, str]]:
    """See ``RegistryClient.image_labels``."""
    manifest = source if source is not None else await client.get_manifest(name, ref)
    images = await _runnable_images(client, name, manifest, 0)
    labels: list[dict[str, str]] = []
    for image in images:
        config = image.config()
        if config is None:
            raise RegistryProtocolError(
                f"registry {client.host}: image {name}@{image.digest} has no config.",
                fix="The manifest is malformed; rebuild and push the image again.",
            )
        labels.append(_labels_of(await client.get_blob(name, config.digest)))
    return labels


@dataclass(frozen=True)
class ImageConfig:
    """What ``status`` shows of an image: its labels and its config's ``created`` time."""

    labels: dict[str, str]
    created: str | None


async def first_image_config(client: ImageReader, name: str, manifest: Manifest) -> ImageConfig:
    """The config of the first runnable image of ``manifest`` (one build, one commit and
    one time: one image is enough, and the reads stay bounded however wide the index)."""
    image = manifest
    for _ in range(_MAX_DEPTH):
        if not image.is_index:
            break
        runnable = [c for c in image.children() if not c.is_attestation]
        if not runnable:
            return ImageConfig({}, None)
        image = await client.get_manifest(name, runnable[0].digest)
    config = image.config()
    if image.is_index or config is None:
        raise RegistryProtocolError(
            f"registry {client.host}: image {name}@{manifest.digest} has no runnable config.",
            fix="The manifest is malformed; rebuild and push the image again.",
        )
    body = _config_object(await client.get_blob(name, config.digest))
    created: Any = body.get("created")
    return ImageConfig(_labels_of_object(body), created if isinstance(created, str) else None)


async def _runnable_images(
    client: ImageReader, name: str, manifest: Manifest, depth: int
) -> list[Manifest]:
    if not manifest.is_index:
        return [manifest]
    if depth >= _MAX_DEPTH:
        raise RegistryProtocolError(
            f"registry {client.host}: index {name}@{manifest.digest} nests too deep.",
            fix="The image index is malformed; rebuild and push the image again.",
        )
    images: list[Manifest] = []
    for child in manifest.children():
        if child.is_attestation:
            continue
        child_manifest = await client.get_manifest(name, child.digest)
        images += await _runnable_images(client, name, child_manifest, depth + 1)
    return images


def _labels_of(config: bytes) -> dict[str, str]:
    return _labels_of_object(_config_object(config))


def _config_object(config: bytes) -> Mapping[str, Any]:
    try:
        body: Any = json.loads(config)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise RegistryProtocolError(
            "An image config is not a JSON object.",
            fix="The image is malformed; rebuild and push it again.",
        )
    return cast(Mapping[str, Any], body)


def _labels_of_object(body: Mapping[str, Any]) -> dict[str, str]:
    inner: Any = body.get("config")
    raw: Any = cast(Mapping[str, Any], inner).get("Labels") if isinstance(inner, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v) for k, v in cast(Mapping[str, Any], raw).items()}
