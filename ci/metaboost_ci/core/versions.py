"""Versions: the base X.Y.Z from package.json, staging versions, overrides.

A staging version is ``X.Y.Z-staging.N``. Only tags of exactly that shape
count (no leading zeros, no suffixes, no build metadata): anything else in a
tag list is somebody else's tag and is ignored, never misread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import semver

from .errors import ConfigError, VersionError

STAGING = "staging"
# ASCII digits only: ``\d`` would also take other scripts' digits ("1\u0661"),
# which int() reads as 11.
_NUM = r"(?:0|[1-9][0-9]*)"
_BASE_RE = re.compile(rf"{_NUM}\.{_NUM}\.{_NUM}")


@dataclass(frozen=True, order=True)
class StagingVersion:
    """``base-staging.n``, e.g. ``0.1.2-staging.3``."""

    base: str
    n: int

    def __str__(self) -> str:
        return f"{self.base}-{STAGING}.{self.n}"


def is_base_version(text: str) -> bool:
    """True for a strict ``X.Y.Z`` (no prerelease, no leading zeros)."""
    # fullmatch, not ``$``: ``$`` also matches before a trailing newline.
    return bool(_BASE_RE.fullmatch(text))


def require_base_version(text: str, *, what: str = "base version") -> str:
    """Return ``text`` when it is a strict X.Y.Z, else raise naming the problem."""
    if not is_base_version(text):
        raise VersionError(
            f"The {what} {text!r} is not of the form X.Y.Z (three numbers, no leading zeros).",
            fix="Give a version such as 1.4.0.",
        )
    return text


# Where a version's changelog lives: bump-version creates it, a release reads it.
CHANGELOG_DIR = "docs/development/CHANGELOGS"


def changelog_path(base: str) -> str:
    """The changelog of ``base``, relative to the monorepo root."""
    return f"{CHANGELOG_DIR}/{require_base_version(base)}.md"


def parse_package_json(text: str, where: str) -> dict[str, Any]:
    """The JSON object in a package.json's ``text``; ``where`` names the file in errors."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            fix="Repair the file; `npm pkg get version` shows what npm makes of it.",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where} does not hold a JSON object.", fix="Repair the file.")
    return cast(dict[str, Any], data)


def package_version(text: str, where: str) -> str:
    """The SemVer ``version`` field of a package.json's ``text``."""
    version: Any = parse_package_json(text, where).get("version")
    if version is None:
        raise ConfigError(
            f'{where} has no "version" field.',
            fix='Add "version": "X.Y.Z" to the root package.json.',
        )
    if not isinstance(version, str) or not semver.Version.is_valid(version):
        raise ConfigError(
            f"{where} has version {version!r}, which is not SemVer.",
            fix='Set "version" to X.Y.Z (optionally with a prerelease, e.g. 1.2.0-rc.1).',
        )
    return version


def read_package_version(package_json: Path) -> str:
    """The ``version`` field of a package.json file, checked to be SemVer."""
    try:
        raw = package_json.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{package_json} does not exist.",
            fix="Run from the monorepo root or pass --source DIR / --base-version X.Y.Z.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{package_json} cannot be read: {exc.strerror}.") from None
    return package_version(raw, str(package_json))


def base_version(version: str) -> str:
    """``1.2.3-rc.1+build`` -> ``1.2.3``: the version with prerelease and build stripped."""
    parsed = semver.Version.parse(version)
    return f"{parsed.major}.{parsed.minor}.{parsed.patch}"


def read_base_version(source: Path) -> str:
    """The base version of the monorepo at ``source`` (its root package.json)."""
    return base_version(read_package_version(source / "package.json"))


def staging_tag(base: str, n: int) -> str:
    """Format ``base-staging.n``."""
    return str(StagingVersion(base, n))


def parse_staging_n(tag: str, base: str) -> int | None:
    """N when ``tag`` is exactly ``{base}-staging.N``; None for any other tag."""
    prefix = f"{base}-{STAGING}."
    if not tag.startswith(prefix):
        return None
    rest = tag[len(prefix) :]
    if not re.fullmatch(_NUM, rest):
        return None
    return int(rest)


def parse_staging_version(text: str) -> StagingVersion | None:
    """Parse any ``X.Y.Z-staging.N``; None for anything else."""
    match = re.fullmatch(rf"({_NUM}\.{_NUM}\.{_NUM})-{STAGING}\.({_NUM})", text)
    if not match:
        return None
    return StagingVersion(match.group(1), int(match.group(2)))


def staging_numbers(tags: Iterable[str], base: str) -> list[int]:
    """Sorted distinct N of every ``{base}-staging.N`` among ``tags``."""
    return sorted({n for t in tags if (n := parse_staging_n(t, base)) is not None})


def validate_override(
    override: str, base: str, *, allow_other_base: bool = False
) -> StagingVersion:
    """Check a ``--version-override`` and return it parsed; every rejection says why."""
    fix = f"Use the form {base}-staging.N, e.g. {base}-staging.7."
    if not semver.Version.is_valid(override):
        raise VersionError(f"Version override {override!r} is not valid SemVer 2.0.", fix=fix)
    parsed = semver.Version.parse(override)
    if parsed.build:
        raise VersionError(
            f"Version override {override!r} has build metadata (+{parsed.build}); "
            "OCI tags cannot hold '+'.",
            fix=fix,
        )
    if parsed.prerelease is None:
        raise VersionError(
            f"Version override {override!r} has no prerelease; the staging line needs -staging.N.",
            fix=fix,
        )
    staging = parse_staging_version(override)
    if staging is None:
        raise VersionError(
            f"Version override {override!r} has prerelease {parsed.prerelease!r}; "
            "it must be exactly staging.N (N a number without leading zeros).",
            fix=fix,
        )
    if staging.base != base and not allow_other_base:
        raise VersionError(
            f"Version override {override!r} has base {staging.base}, but package.json says {base}.",
            fix=f"Use {base}-staging.N, or pass --allow-other-base if that is intended.",
        )
    return staging
