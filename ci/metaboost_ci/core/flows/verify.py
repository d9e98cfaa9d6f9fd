"""Check that every app has the version tag (and the floating tag) on one digest.

Every app is checked, and every problem is reported at once, so one run of
``verify`` tells the whole story instead of the first missing tag.

The version tag's digest is what gets published onward (the summary, GitOps
pins, attestation subjects), so it is never taken from a header: the manifest
is read (GET, same round trip as a HEAD) and its digest is the hash of the
bytes; a ``Docker-Content-Digest`` that disagrees is an error naming the
image. The floating tag is only compared with it, so a HEAD is enough there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..errors import CheckFailed, InputError, NotFound
from ..registry import Manifest
from ..registry.media import check_tag
from .context import ReleaseContext, authorize, per_app, run_together

# The commit an image was built from (the build sets it; promotions and kept
# staging images are checked against it).
REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class TagState:
    """What one app's tags name right now (None: the tag is absent)."""

    app: str
    version_digest: str | None
    float_digest: str | None = None
    # The version tag's manifest as read (its digest is the hash of these bytes).
    manifest: Manifest | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Verification:
    version: str
    float_tag: str | None
    # app -> the digest both tags name.
    digests: dict[str, str]
    # app -> the revision label of each runnable image of that digest ("" for an
    # image without one); None when not asked for (``revisions=False``).
    revisions: dict[str, list[str]] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "float_tag": self.float_tag,
            "digests": self.digests,
        }
        if self.revisions is not None:
            data["revisions"] = self.revisions
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verification:
        """The verification ``to_dict`` wrote (``verify --json``, as the Dagger layer reads it)."""
        revisions = cast(Mapping[str, list[Any]] | None, data.get("revisions"))
        return cls(
            version=str(data["version"]),
            float_tag=cast(str | None, data.get("float_tag")),
            digests={
                str(app): str(d) for app, d in cast(Mapping[str, Any], data["digests"]).items()
            },
            revisions=None
            if revisions is None
            else {str(app): [str(r) for r in labels] for app, labels in revisions.items()},
        )


def require_image_tag(float_tag: str) -> str:
    """``float_tag`` when registries accept it as a tag, else an input error.

    Checked before any request: ``''`` or ``'bad tag'`` would otherwise reach
    the registry and come back as one failure per app.
    """
    try:
        return check_tag(float_tag)
    except InputError:
        raise InputError(
            f"--float-tag {float_tag!r} is not a valid image tag.",
            fix="Name a floating tag such as staging or latest (1-128 letters, digits, "
            "'_', '.' and '-', not starting with '.' or '-').",
        ) from None


async def head_digest(ctx: ReleaseContext, app: str, ref: str) -> str | None:
    """The digest ``app:ref`` names, or None when the tag (or the image) is absent."""
    try:
        descriptor = await ctx.registry.head_manifest(ctx.image_name(app), ref)
    except NotFound:  # the whole repository is missing: the tag is too
        return None
    return descriptor.digest if descriptor else None


async def read_manifest(ctx: ReleaseContext, app: str, ref: str) -> Manifest | None:
    """The manifest ``app:ref`` names, its digest hashed from the bytes; None when absent."""
    try:
        return await ctx.registry.get_manifest(ctx.image_name(app), ref)
    except NotFound:  # the tag, or the whole repository, is missing
        return None


async def read_tag_states(
    ctx: ReleaseContext, version: str, float_tag: str | None
) -> dict[str, TagState]:
    """Per app: the version's manifest (GET) and the floating tag's digest (HEAD), at once."""

    async def one(app: str) -> TagState:
        manifest: Manifest | None = None
        floating: str | None = None

        async def read_version() -> None:
            nonlocal manifest
            manifest = await read_manifest(ctx, app, version)

        async def read_float() -> None:
            nonlocal floating
            floating = await head_digest(ctx, app, float_tag) if float_tag else None

        await run_together(read_version, read_float)
        return TagState(app, manifest.digest if manifest else None, floating, manifest)

    await authorize(ctx, write=False)
    return await per_app(ctx.apps, one, progress=ctx.progress)


def tag_problems(
    ctx: ReleaseContext, states: dict[str, TagState], version: str, float_tag: str | None
) -> list[str]:
    problems: list[str] = []
    for app, state in states.items():
        if state.version_digest is None:
            problems.append(f"{ctx.image_ref(app, version)} does not exist.")
        if float_tag is None:
            continue
        if state.float_digest is None:
            problems.append(f"{ctx.image_ref(app, float_tag)} does not exist.")
        elif state.version_digest is not None and state.float_digest != state.version_digest:
            problems.append(
                f"{ctx.image(app)}: {float_tag} names {state.float_digest} but {version} "
                f"names {state.version_digest}."
            )
    return problems


async def read_revisions(
    ctx: ReleaseContext,
    digests: dict[str, str],
    manifests: dict[str, Manifest] | None = None,
) -> dict[str, list[str]]:
    """app -> the revision label of each runnable image of its digest (attestations skipped).

    Read by digest, not by tag: the labels are those of exactly the image the
    tag was found naming, even if the tag moves meanwhile. ``manifests``: those
    digests' manifests when already read (not read again).
    """
    known = manifests or {}

    async def one(app: str) -> list[str]:
        name = ctx.image_name(app)
        labels = await ctx.registry.image_labels(name, digests[app], source=known.get(app))
        return [each.get(REVISION_LABEL, "") for each in labels]

    return await per_app(digests, one, progress=ctx.progress)


async def verify(
    ctx: ReleaseContext, *, version: str, float_tag: str | None = None, revisions: bool = False
) -> Verification:
    """Every app has ``version`` (and ``float_tag``, on the same digest), or ``CheckFailed``.

    ``revisions``: also read each app's revision labels (a config per
    runnable image, and an index's child manifests; off by default).
    """
    if float_tag is not None:
        # '' would otherwise read as "no floating tag" and pass unchecked.
        require_image_tag(float_tag)
    what = f"{version} and {float_tag}" if float_tag else version
    ctx.progress.step(f"Verifying {what} on {len(ctx.apps)} apps.")
    states = await read_tag_states(ctx, version, float_tag)
    problems = tag_problems(ctx, states, version, float_tag)
    if problems:
        raise CheckFailed(
            f"Verification of {what} failed for {len(problems)} tag(s):",
            problems,
            fix="Push the missing images (re-run the publish), then verify again.",
        )
    digests = {app: state.version_digest for app, state in states.items() if state.version_digest}
    manifests = {app: state.manifest for app, state in states.items() if state.manifest}
    read = await read_revisions(ctx, digests, manifests) if revisions else None
    return Verification(version=version, float_tag=float_tag, digests=digests, revisions=read)
