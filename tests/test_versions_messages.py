"""``core.versions``: the exact words of every refusal, as a table.

Here the message is the product: it names the value refused and says what to
do instead, and people (and the workflow summaries) rely on both parts. Each
row is one refusal: what was given, the message, and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from metaboost_ci.core.errors import ConfigError, InputError, VersionError
from metaboost_ci.core.versions import (
    package_version,
    read_package_version,
    require_base_version,
    validate_override,
)

OVERRIDE_FIX = "Use the form 1.2.3-staging.N, e.g. 1.2.3-staging.7."
SEMVER_FIX = 'Set "version" to X.Y.Z (optionally with a prerelease, e.g. 1.2.0-rc.1).'

REFUSALS: list[tuple[str, Callable[[], object], str, str | None]] = [
    (
        "base-version-default-wording",
        lambda: require_base_version("1.2"),
        "The base version '1.2' is not of the form X.Y.Z (three numbers, no leading zeros).",
        "Give a version such as 1.4.0.",
    ),
    (
        "base-version-named-by-the-caller",
        lambda: require_base_version("01.2.3", what="--base-version"),
        "The --base-version '01.2.3' is not of the form X.Y.Z (three numbers, no leading zeros).",
        "Give a version such as 1.4.0.",
    ),
    (
        "package-json-not-json",
        lambda: package_version('{"version": ', "web/package.json"),
        "web/package.json is not valid JSON (line 1, column 13: Expecting value).",
        "Repair the file; `npm pkg get version` shows what npm makes of it.",
    ),
    (
        "package-json-not-an-object",
        lambda: package_version('["1.2.3"]', "package.json"),
        "package.json does not hold a JSON object.",
        "Repair the file.",
    ),
    (
        "package-json-without-version",
        lambda: package_version('{"name": "metaboost"}', "package.json"),
        'package.json has no "version" field.',
        'Add "version": "X.Y.Z" to the root package.json.',
    ),
    (
        "version-not-semver",
        lambda: package_version('{"version": "1.2"}', "package.json"),
        "package.json has version '1.2', which is not SemVer.",
        SEMVER_FIX,
    ),
    (
        "version-not-a-string",
        lambda: package_version('{"version": 1.2}', "package.json"),
        "package.json has version 1.2, which is not SemVer.",
        SEMVER_FIX,
    ),
    (
        "override-not-semver",
        lambda: validate_override("v1.2.3-staging.1", "1.2.3"),
        "Version override 'v1.2.3-staging.1' is not valid SemVer 2.0.",
        OVERRIDE_FIX,
    ),
    (
        "override-with-build-metadata",
        lambda: validate_override("1.2.3-staging.1+sha.5", "1.2.3"),
        "Version override '1.2.3-staging.1+sha.5' has build metadata (+sha.5); "
        "OCI tags cannot hold '+'.",
        OVERRIDE_FIX,
    ),
    (
        "override-without-prerelease",
        lambda: validate_override("1.2.3", "1.2.3"),
        "Version override '1.2.3' has no prerelease; the staging line needs -staging.N.",
        OVERRIDE_FIX,
    ),
    (
        "override-with-another-prerelease",
        lambda: validate_override("1.2.3-rc.1", "1.2.3"),
        "Version override '1.2.3-rc.1' has prerelease 'rc.1'; "
        "it must be exactly staging.N (N a number without leading zeros).",
        OVERRIDE_FIX,
    ),
    (
        "override-of-another-base",
        lambda: validate_override("2.0.0-staging.3", "1.2.3"),
        "Version override '2.0.0-staging.3' has base 2.0.0, but package.json says 1.2.3.",
        "Use 1.2.3-staging.N, or pass --allow-other-base if that is intended.",
    ),
]


@pytest.mark.parametrize(
    ("refuse", "message", "fix"),
    [pytest.param(call, message, fix, id=name) for name, call, message, fix in REFUSALS],
)
def test_each_refusal_names_the_value_and_the_fix(
    refuse: Callable[[], object], message: str, fix: str | None
) -> None:
    with pytest.raises(InputError) as caught:
        refuse()
    error = caught.value
    assert isinstance(error, VersionError | ConfigError)
    assert error.exit_code == 2
    assert error.message == message
    assert error.fix == fix
    assert str(error) == f"{message} Fix: {fix}"


def test_a_missing_package_json_says_where_to_run_from(tmp_path: Path) -> None:
    missing = tmp_path / "package.json"
    with pytest.raises(ConfigError) as caught:
        read_package_version(missing)
    assert caught.value.message == f"{missing} does not exist."
    assert caught.value.fix == (
        "Run from the monorepo root or pass --source DIR / --base-version X.Y.Z."
    )


def test_an_unreadable_package_json_says_why(tmp_path: Path) -> None:
    directory = tmp_path / "package.json"
    directory.mkdir()
    with pytest.raises(ConfigError) as caught:
        read_package_version(directory)
    assert caught.value.message == f"{directory} cannot be read: Is a directory."
    assert caught.value.fix is None


def test_a_valid_file_is_read_as_text_in_utf8(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    # A non-ASCII description: the file must be read as UTF-8 whatever the locale.
    path.write_text('{"description": "Métaboost ✓", "version": "1.2.3-rc.1"}', encoding="utf-8")
    assert read_package_version(path) == "1.2.3-rc.1"
