"""Copy a whole image to a new tag, keeping its digest.

An index is copied with every child, attestations included (build tools wrap
even single-platform images in an index to attach provenance; copying only
``manifests[0]`` would change the digest and drop platforms). Children go
before the index, blobs before their manifest, because a registry refuses a
manifest whose references are missing. The bytes are never re-serialised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InputError
from .media import (
    NON_DISTRIBUTABLE_LAYERS,
    Manifest,
    check_name,
    check_reference,
    check_tag,
    is_digest,
)

if TYPE_CHECKING:
    from .client import RegistryClient


@dataclass(frozen=True)
class CopyResult:
    """What ``copy_image`` did."""

    digest: str  # the image's digest, the same in source and destination
    written: bool  # False when the destination tag already had this digest
    manifests_copied: int = 0  # child manifests written into another repository
    blobs_mounted: int = 0  # blobs the registry linked across repositories
    blobs_copied: int = 0  # blobs whose bytes went through us (mount refused)


@dataclass
class _Tally:
    manifests: int = 0
    mounted: int = 0
    copied: int = 0


async def copy_image(
    client: RegistryClient,
    src_name: str,
    src_ref: str,
    dst_name: str,
    dst_tag: str,
    *,
    source: Manifest | None = None,
) -> CopyResult:
    """See ``RegistryClient.copy_image``."""
    check_name(src_name)
    check_reference(src_ref)
    check_name(dst_name)
    check_tag(dst_tag)
    if source is not None and is_digest(src_ref) and source.digest != src_ref:
        raise InputError(
            f"The manifest given ({source.digest}) is not {src_name}@{src_ref}.",
            fix="Pass the manifest read from the source reference, or none.",
        )
    manifest = source or await client.get_manifest(src_name, src_ref)
    same_repository = src_name == dst_name
    # One token for the whole copy instead of one per kind of request. Inside
    # one repository the source's token serves the HEAD, so wait: the PUT may
    # not be needed.
    if not same_repository:
        await client.authorize(pull=[src_name], push=[dst_name])
    current = await client.head_manifest(dst_name, dst_tag)
    if current is not None and current.digest == manifest.digest:
        return CopyResult(manifest.digest, written=False)
    tally = _Tally()
    # Inside one repository every child and blob is already there: just tag.
    if not same_repository:
        await _copy_references(client, src_name, dst_name, manifest, tally, set())
    await client.put_manifest(dst_name, dst_tag, manifest)
    return CopyResult(
        manifest.digest,
        written=True,
        manifests_copied=tally.manifests,
        blobs_mounted=tally.mounted,
        blobs_copied=tally.copied,
    )


async def _copy_references(
    client: RegistryClient,
    src: str,
    dst: str,
    manifest: Manifest,
    tally: _Tally,
    done: set[str],
) -> None:
    """Put into ``dst`` everything ``manifest`` references (not ``manifest`` itself)."""
    for child in manifest.children():
        if child.digest in done:
            continue
        done.add(child.digest)
        if await client.head_manifest(dst, child.digest) is not None:
            continue  # present, hence so is everything it references
        child_manifest = await client.get_manifest(src, child.digest)
        await _copy_references(client, src, dst, child_manifest, tally, done)
        await client.put_manifest(dst, child.digest, child_manifest)
        tally.manifests += 1
    for blob in manifest.blobs():
        # Non-distributable layers live outside the registry (their "urls").
        if blob.digest in done or blob.media_type in NON_DISTRIBUTABLE_LAYERS:
            continue
        done.add(blob.digest)
        if await client.mount_blob(dst, blob.digest, src):
            tally.mounted += 1
        else:
            tally.copied += 1
