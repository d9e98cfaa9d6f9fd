"""What the GitHub client hands back: plain frozen records, parsed defensively."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from ..errors import RemoteError


@dataclass(frozen=True)
class Release:
    """A GitHub release, reduced to what the release flows read."""

    id: int
    tag_name: str
    name: str
    body: str
    prerelease: bool
    draft: bool
    html_url: str

    @classmethod
    def from_json(cls, data: object) -> Release:
        fields = _object(data, "release")
        release_id = fields.get("id")
        tag_name = fields.get("tag_name")
        if not isinstance(release_id, int) or not isinstance(tag_name, str):
            raise RemoteError("GitHub sent a release without an id or tag_name.")
        # name and body are null when a release was made without them.
        return cls(
            id=release_id,
            tag_name=tag_name,
            name=str(fields.get("name") or ""),
            body=str(fields.get("body") or ""),
            prerelease=bool(fields.get("prerelease")),
            draft=bool(fields.get("draft")),
            html_url=str(fields.get("html_url") or ""),
        )


@dataclass(frozen=True)
class GitObject:
    """What a ref or an annotated tag points at: ``type`` is commit, tag, tree or blob."""

    sha: str
    type: str

    @classmethod
    def from_json(cls, data: object, what: str) -> GitObject:
        fields = _object(data, what)
        target = _object(fields.get("object"), f"{what} object")
        sha = target.get("sha")
        kind = target.get("type")
        if not isinstance(sha, str) or not isinstance(kind, str):
            raise RemoteError(f"GitHub sent a {what} without object.sha or object.type.")
        return cls(sha=sha, type=kind)


def ref_name(data: object) -> str:
    """The ``ref`` field of a reference object (``refs/tags/X``)."""
    name = _object(data, "reference").get("ref")
    if not isinstance(name, str):
        raise RemoteError("GitHub sent a reference without a ref name.")
    return name


def _object(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RemoteError(f"GitHub sent a malformed {what} (expected a JSON object).")
    return cast(dict[str, Any], data)
