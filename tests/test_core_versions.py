"""``core.versions``: every rule of the base version, staging tags and overrides.

Pure functions over strings and real files in a tmp dir: no remote involved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaboost_ci.core.errors import ConfigError, InputError, VersionError
from metaboost_ci.core.versions import (
    StagingVersion,
    base_version,
    is_base_version,
    parse_staging_n,
    parse_staging_version,
    read_base_version,
    read_package_version,
    require_base_version,
    staging_numbers,
    staging_tag,
    validate_override,
)

# ------------------------------------------------------------- base version


@pytest.mark.parametrize("text", ["0.0.0", "1.2.3", "10.20.30", "0.1.0"])
def test_strict_base_versions_are_accepted(text: str) -> None:
    assert is_base_version(text)
    assert require_base_version(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "v1.2.3",
        "1.2.3-rc.1",
        "1.2.3+build",
        " 1.2.3",
        "1.2.3\n",  # "$" would let a trailing newline through
        "1.2.\u0663",  # an Arabic-Indic digit is not an ASCII digit
        "",
    ],
)
def test_anything_but_strict_x_y_z_is_rejected_naming_it(text: str) -> None:
    assert not is_base_version(text)
    with pytest.raises(VersionError) as caught:
        require_base_version(text, what="--base-version")
    assert repr(text) in str(caught.value)
    assert "--base-version" in str(caught.value)
    assert caught.value.fix is not None
    assert caught.value.exit_code == 2


def write_package_json(root: Path, content: str) -> Path:
    path = root / "package.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_base_version_comes_from_package_json_with_prerelease_stripped(tmp_path: Path) -> None:
    write_package_json(tmp_path, json.dumps({"name": "metaboost", "version": "0.4.1-rc.2+b7"}))
    assert read_package_version(tmp_path / "package.json") == "0.4.1-rc.2+b7"
    assert read_base_version(tmp_path) == "0.4.1"
    assert base_version("2.0.0") == "2.0.0"


def test_missing_package_json_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_base_version(tmp_path)
    assert str(tmp_path / "package.json") in str(caught.value)
    assert "does not exist" in str(caught.value)
    assert caught.value.fix is not None


def test_bad_json_names_the_file_and_where(tmp_path: Path) -> None:
    path = write_package_json(tmp_path, '{"version": "1.2.3",\n}')
    with pytest.raises(ConfigError) as caught:
        read_base_version(tmp_path)
    message = str(caught.value)
    assert str(path) in message
    assert "not valid JSON" in message
    assert "line 2" in message


def test_json_that_is_not_an_object_names_the_file(tmp_path: Path) -> None:
    path = write_package_json(tmp_path, '["1.2.3"]')
    with pytest.raises(ConfigError, match="does not hold a JSON object") as caught:
        read_base_version(tmp_path)
    assert str(path) in str(caught.value)


def test_missing_version_names_the_file(tmp_path: Path) -> None:
    path = write_package_json(tmp_path, json.dumps({"name": "metaboost"}))
    with pytest.raises(ConfigError, match='no "version" field') as caught:
        read_base_version(tmp_path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("value", ["1.2", "v1.2.3", "latest", "01.2.3", 123, ["1.2.3"]])
def test_non_semver_version_names_the_file_and_the_value(tmp_path: Path, value: object) -> None:
    path = write_package_json(tmp_path, json.dumps({"version": value}))
    with pytest.raises(ConfigError, match="not SemVer") as caught:
        read_base_version(tmp_path)
    assert str(path) in str(caught.value)
    assert repr(value) in str(caught.value)


# ---------------------------------------------------------------- staging


def test_staging_tag_formats_and_parses_back() -> None:
    assert staging_tag("1.2.3", 0) == "1.2.3-staging.0"
    assert str(StagingVersion("1.2.3", 14)) == "1.2.3-staging.14"
    assert parse_staging_version("1.2.3-staging.14") == StagingVersion("1.2.3", 14)
    assert parse_staging_n("1.2.3-staging.14", "1.2.3") == 14
    assert parse_staging_n("1.2.3-staging.0", "1.2.3") == 0


@pytest.mark.parametrize(
    "tag",
    [
        "1.2.3-staging.01",  # leading zero
        "1.2.3-staging.00",
        "1.2.3-staging.1-fix",  # suffix
        "1.2.3-staging.1.2",
        "1.2.3-staging.1+b",  # build metadata
        "1.2.3-staging.",
        "1.2.3-staging.x",
        "1.2.3-staging.-1",
        "1.2.3-staging.1\n",
        "1.2.3-staging.1\u0661",  # int() would read "1\u0661" as 11
        "1.2.3-Staging.1",
        "v1.2.3-staging.1",
        "1.2.3-staging1",
        "1.2.3-rc.1",
        "1.2.3",
        "latest",
        "1.2.30-staging.1",  # another base sharing a prefix
    ],
)
def test_only_tags_of_exactly_the_staging_shape_count(tag: str) -> None:
    assert parse_staging_n(tag, "1.2.3") is None
    assert staging_numbers([tag], "1.2.3") == []


@pytest.mark.parametrize("text", ["01.2.3-staging.1", "1.2.3-staging.01", "1.2.3-staging.1x"])
def test_parse_staging_version_rejects_malformed(text: str) -> None:
    assert parse_staging_version(text) is None


def test_staging_numbers_are_this_base_s_distinct_n_in_numeric_order() -> None:
    tags = [
        "1.2.3-staging.0",
        "1.2.3-staging.7",
        "1.2.3-staging.2",
        "1.2.3-staging.7",  # duplicates (tags from two sources) count once
        "1.2.3-staging.08",  # not ours: leading zero
        "1.2.4-staging.50",  # another base
        "1.2.3",
        "latest",
    ]
    assert staging_numbers(tags, "1.2.3") == [0, 2, 7]
    assert staging_numbers(iter(tags), "1.2.4") == [50]  # any iterable, read once
    assert staging_numbers([], "1.2.3") == []
    # Numeric, not lexical: 10 sorts after 9.
    assert staging_numbers(["1.2.3-staging.10", "1.2.3-staging.9"], "1.2.3") == [9, 10]


# --------------------------------------------------------------- override


def test_a_good_override_is_returned_parsed() -> None:
    assert validate_override("1.2.3-staging.4", "1.2.3") == StagingVersion("1.2.3", 4)
    assert validate_override("1.2.3-staging.0", "1.2.3") == StagingVersion("1.2.3", 0)


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ("1.2", "not valid SemVer"),
        ("v1.2.3-staging.1", "not valid SemVer"),
        ("1.2.3-staging.01", "not valid SemVer"),  # SemVer forbids the leading zero
        ("1.2.3-staging.1 ", "not valid SemVer"),
        ("1.2.3-staging.1+build.5", "build metadata"),
        ("1.2.3+build.5", "build metadata"),
        ("1.2.3", "no prerelease"),
        ("1.2.3-rc.1", "exactly staging.N"),
        ("1.2.3-staging", "exactly staging.N"),
        ("1.2.3-staging.1.2", "exactly staging.N"),
        ("1.2.3-staging.x", "exactly staging.N"),
        ("1.2.3-Staging.1", "exactly staging.N"),
        ("1.2.3-staging.1-hotfix", "exactly staging.N"),
        ("1.3.0-staging.1", "package.json says 1.2.3"),
    ],
)
def test_every_override_rejection_says_why(override: str, why: str) -> None:
    with pytest.raises(VersionError) as caught:
        validate_override(override, "1.2.3")
    error = caught.value
    assert isinstance(error, InputError)
    assert repr(override) in error.message
    assert why in error.message
    assert error.fix is not None
    assert "1.2.3-staging." in error.fix


def test_build_metadata_is_refused_even_when_the_rest_is_right() -> None:
    with pytest.raises(VersionError, match=r"OCI tags cannot hold '\+'"):
        validate_override("1.2.3-staging.4+sha.abc", "1.2.3", allow_other_base=True)


def test_another_base_only_when_explicitly_allowed() -> None:
    with pytest.raises(VersionError) as caught:
        validate_override("2.0.0-staging.3", "1.2.3")
    assert caught.value.fix is not None
    assert "--allow-other-base" in caught.value.fix
    allowed = validate_override("2.0.0-staging.3", "1.2.3", allow_other_base=True)
    assert allowed == StagingVersion("2.0.0", 3)
    # Allowing another base relaxes nothing else.
    with pytest.raises(VersionError, match=r"exactly staging\.N"):
        validate_override("2.0.0-rc.3", "1.2.3", allow_other_base=True)
