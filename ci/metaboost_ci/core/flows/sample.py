"""Tiny stand-in images, for trying the release commands on a local registry.

No build tool and no engine: each app gets a one-layer OCI image (a small text
file) whose config carries the labels the release checks (the commit in
``org.opencontainers.image.revision``), pushed through the registry client as
``REGISTRY/OWNER/REPO/<app>:VERSION``, the names the release commands use.
The bytes depend only on (app, version, commit), so a re-run pushes the same
digests; a tag that already names other bytes is never moved.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

from ..errors import CheckFailed, InputError
from ..registry.media import OCI_MANIFEST, Manifest, digest_of
from .context import ReleaseContext, authorize, per_app, write_per_app

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class SampleImage:
    manifest: Manifest
    blobs: tuple[bytes, ...]  # the config and the layer


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _layer(text: str) -> tuple[bytes, str]:
    """A gzipped tar of one file, byte-for-byte the same on every run; and its diff id."""
    data = text.encode()
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        entry = tarfile.TarInfo("sample.txt")
        entry.size, entry.mtime, entry.mode = len(data), 0, 0o644
        archive.addfile(entry, io.BytesIO(data))
    raw = tar.getvalue()
    return gzip.compress(raw, mtime=0), f"sha256:{hashlib.sha256(raw).hexdigest()}"


def sample_image(app: str, version: str, commit: str, source: str) -> SampleImage:
    """The stand-in image of ``app`` at ``version``, labelled as built from ``commit``."""
    layer, diff_id = _layer(f"metaboost-ci sample image: {app} {version} {commit}\n")
    labels = {
        REVISION_LABEL: commit,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.title": app,
    }
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": digest_of(layer), "size": len(layer)}],
        }
    )
    return SampleImage(Manifest.from_bytes(manifest, OCI_MANIFEST), (config, layer))


async def push_sample_images(ctx: ReleaseContext, *, version: str, commit: str) -> dict[str, str]:
    """Push every app's stand-in image as ``version``; its digest per app.

    Only to a plain-HTTP (local) registry: fake images must never land in a
    real package. Every tag is checked before anything is written.
    """
    if ctx.registry.url.scheme != "http":
        raise InputError(
            f"Sample images go to a local registry only, not to {ctx.registry_host} (https).",
            fix="Start a local registry and pass --registry http://127.0.0.1:PORT.",
        )
    source = f"https://github.com/{ctx.repository}"
    images = {app: sample_image(app, version, commit, source) for app in ctx.apps}
    await authorize(ctx, write=True)

    async def present(app: str) -> str | None:
        found = await ctx.registry.head_manifest(ctx.image_name(app), version)
        return None if found is None else found.digest

    existing = await per_app(ctx.apps, present, progress=ctx.progress)
    taken = [
        f"{ctx.image_ref(app, version)} names {digest}, not this sample image"
        for app, digest in existing.items()
        if digest is not None and digest != images[app].manifest.digest
    ]
    if taken:
        raise CheckFailed(
            f"{version} already names other images; an immutable tag never moves:",
            taken,
            fix="Use another version (reserve the next X.Y.Z-staging.N).",
        )

    async def push(app: str) -> str:
        name, image = ctx.image_name(app), images[app]
        if existing[app] != image.manifest.digest:
            for blob in image.blobs:
                if not await ctx.registry.blob_exists(name, digest_of(blob)):
                    await ctx.registry.push_blob(name, blob)
            await ctx.registry.put_manifest(name, version, image.manifest)
            ctx.progress.step(f"pushed {ctx.image_ref(app, version)}")
        return image.manifest.digest

    return await write_per_app(
        ctx,
        ctx.apps,
        push,
        what=f"the sample image {version}",
        fix="Run the same command again: it pushes what is missing.",
    )
