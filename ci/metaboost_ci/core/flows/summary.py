"""What a publish leaves behind for people and for the next step.

Three renderings of one ``PublishSummary``: a Markdown table for the job
summary (``$GITHUB_STEP_SUMMARY``), ``key=value`` lines for ``$GITHUB_OUTPUT``,
and a kustomize ``images:`` block that pins every app by tag and digest for a
GitOps repository.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from ..versions import parse_staging_version


@dataclass(frozen=True)
class ImageRow:
    app: str
    # host/owner/repo/app, as people pull it.
    image: str
    tags: tuple[str, ...]
    digest: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageRow:
        return cls(
            app=str(data["app"]),
            image=str(data["image"]),
            tags=tuple(str(t) for t in data["tags"]),
            digest=str(data["digest"]),
        )


@dataclass(frozen=True)
class PublishSummary:
    version: str
    images: tuple[ImageRow, ...]
    float_tag: str | None = None
    # Lines worth saying under the table ("release skipped: ...").
    notes: tuple[str, ...] = field(default_factory=tuple[str, ...])

    @property
    def staging_n(self) -> int | None:
        staging = parse_staging_version(self.version)
        return staging.n if staging else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["staging_n"] = self.staging_n
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublishSummary:
        """The summary ``to_dict`` wrote (``promote --json``'s ``summary``, as the Dagger
        layer reads it); ``staging_n`` is derived, so it is not read back."""
        return cls(
            version=str(data["version"]),
            images=tuple(ImageRow.from_dict(row) for row in cast(list[Any], data["images"])),
            float_tag=cast(str | None, data.get("float_tag")),
            notes=tuple(str(note) for note in data.get("notes") or ()),
        )

    def markdown(self) -> str:
        """A job-summary table: image, tags, digest per app."""
        title = f"### Published {self.version}"
        lines = [title, "", "| app | image | tags | digest |", "|---|---|---|---|"]
        for row in self.images:
            tags = ", ".join(f"`{t}`" for t in row.tags)
            lines.append(f"| {row.app} | `{row.image}` | {tags} | `{row.digest}` |")
        if self.images:
            lines += ["", "Pin by digest:", "", "```"]
            lines += [f"{row.image}:{self.version}@{row.digest}" for row in self.images]
            lines.append("```")
        lines += [f"\n{note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def github_output(self) -> str:
        """``key=value`` lines for ``$GITHUB_OUTPUT`` (every value is one line)."""
        pairs: list[tuple[str, str]] = [("version", self.version)]
        if self.float_tag:
            pairs.append(("float_tag", self.float_tag))
        if self.staging_n is not None:
            pairs.append(("staging_n", str(self.staging_n)))
        pairs += [(f"digest_{output_key(row.app)}", row.digest) for row in self.images]
        return "".join(f"{key}={value}\n" for key, value in pairs)

    def kustomize_images(self) -> str:
        """A kustomize ``images:`` block pinning each app to the version and its digest."""
        lines = ["images:"]
        for row in self.images:
            lines += [
                f"  - name: {row.image}",
                f'    newTag: "{self.version}"',
                f'    digest: "{row.digest}"',
            ]
        return "\n".join(lines) + "\n"


def output_key(app: str) -> str:
    """``management-web`` -> ``management_web``: output names usable with dot syntax."""
    return re.sub(r"[^A-Za-z0-9_]", "_", app)
