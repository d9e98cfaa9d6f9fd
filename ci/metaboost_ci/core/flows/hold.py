"""The durable record of a rollback of ``latest``: Git tags in the release tag store.

``latest`` names the highest release, and a promotion moves it there. After
``rollback --to X.Y.Z`` that rule would undo the rollback at the next re-run
of the rolled-back version's promotion, so the rollback leaves a record that
the promotion's plan reads (and ``status`` shows):

    rollback/latest/<K>/<X.Y.Z>/<H>    pointing at X.Y.Z's commit

``K`` numbers the records (the highest is the current one), ``X.Y.Z`` is the
release ``latest`` was moved to and ``H`` the highest release at that moment.
The record *holds* ``latest`` at ``X.Y.Z`` while ``X.Y.Z`` is below ``H`` and
no release above ``H`` exists. It is cleared by:

- rolling forward to ``H`` (``rollback --to H`` writes the record ``H/H``,
  which holds nothing), or to a version in between (a new record, same ``H``);
- the next promotion of a version above ``H``: that release is then the
  highest, so the record no longer holds (nothing is written for it).

Git tags are the one store both tag stores share (the GitHub API and any Git
remote); the records are created like every other tag, never moved, so the
history of rollbacks stays readable with ``git ls-remote --tags``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import semver

from ..errors import RemoteError
from ..tags import TagCreate
from .context import ReleaseContext

RECORD_PREFIX = "rollback/latest/"
_NUM = r"(?:0|[1-9][0-9]*)"
_VERSION = rf"{_NUM}\.{_NUM}\.{_NUM}"
_RECORD = re.compile(rf"{re.escape(RECORD_PREFIX)}({_NUM})/({_VERSION})/({_VERSION})")
# Numbers tried past the newest record before giving up (a concurrent writer).
_MAX_ATTEMPTS = 20


def _v(version: str) -> semver.Version:
    return semver.Version.parse(version)


@dataclass(frozen=True)
class RollbackRecord:
    """One ``rollback/latest/K/X.Y.Z/H`` tag."""

    number: int
    # The release latest was moved to.
    version: str
    # The highest release when the rollback was made.
    ceiling: str
    # The commit the record points at (the version's commit).
    commit: str

    @property
    def tag(self) -> str:
        return record_tag(self.number, self.version, self.ceiling)

    def holds(self, highest: str | None) -> bool:
        """True while this record keeps ``latest`` at ``version``.

        ``highest``: the highest release now. A release above the ceiling
        means a newer version was promoted since: the hold is over.
        """
        if _v(self.version) >= _v(self.ceiling):
            return False  # a roll-forward record: nothing held
        return highest is None or _v(highest) <= _v(self.ceiling)

    def holds_back(self, base: str, highest: str | None) -> bool:
        """True when promoting ``base`` must leave ``latest`` where the record put it."""
        return self.holds(highest) and _v(base) <= _v(self.ceiling)

    def to_dict(self, highest: str | None) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "number": self.number,
            "version": self.version,
            "ceiling": self.ceiling,
            "commit": self.commit,
            "in_force": self.holds(highest),
        }


def record_tag(number: int, version: str, ceiling: str) -> str:
    return f"{RECORD_PREFIX}{number}/{version}/{ceiling}"


def parse_record(tag: str, commit: str) -> RollbackRecord | None:
    """The record a tag names; None for any other tag."""
    match = _RECORD.fullmatch(tag)
    if match is None:
        return None
    return RollbackRecord(int(match.group(1)), match.group(2), match.group(3), commit)


async def read_rollback_record(ctx: ReleaseContext) -> RollbackRecord | None:
    """The newest record (highest number), or None when there was never a rollback."""
    tags = await ctx.tags.list_tags(RECORD_PREFIX)
    records = [r for tag, commit in tags.items() if (r := parse_record(tag, commit))]
    # Ties (two rollbacks at once) are settled the same way everywhere.
    return max(records, key=lambda r: (r.number, _v(r.version), _v(r.ceiling)), default=None)


async def write_rollback_record(
    ctx: ReleaseContext,
    *,
    version: str,
    ceiling: str,
    commit: str,
    after: RollbackRecord | None,
) -> RollbackRecord:
    """Create the record after ``after`` (the newest one read); the number is the next free one.

    An existing tag with the same name at the same commit is this record
    already (a re-run whose first create landed).
    """
    number = after.number + 1 if after else 0
    for _ in range(_MAX_ATTEMPTS):
        record = RollbackRecord(number, version, ceiling, commit)
        if await ctx.tags.create_tag(record.tag, commit) is TagCreate.CREATED:
            ctx.progress.step(f"Recorded the rollback as Git tag {record.tag}.")
            return record
        if await ctx.tags.tag_commit(record.tag) == commit:
            return record
        number += 1
    raise RemoteError(
        f"No free rollback record number after {number - _MAX_ATTEMPTS} in "
        f"{ctx.tags.description}: {_MAX_ATTEMPTS} were taken.",
        fix="Another rollback is running; wait for it, check `metaboost-ci status`, "
        "then roll back again.",
    )
