"""bump-version's edits on real files: only the version changes, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaboost_ci.core.errors import ConfigError, VersionError
from metaboost_ci.devtools.monorepo import (
    LocalTree,
    changelog_template,
    plan_bump,
    set_lockfile_versions,
    set_version,
    write_plan,
)


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode())


def test_set_version_changes_only_the_version_value() -> None:
    text = '{\n    "version": "1.2.3",\n  "name":"x",\n\t"deps": {"version": "9.9.9"}\n}'
    assert set_version(text, "2.0.0") == text.replace('"1.2.3"', '"2.0.0"')


def test_set_version_ignores_nested_version_keys_and_keeps_crlf() -> None:
    text = (
        '{\r\n  "name": "a",\r\n  "engines": {"version": "1.0.0"},\r\n  "version": "0.1.0"\r\n}\r\n'
    )
    edited = set_version(text, "0.2.0")
    assert edited == text.replace('"0.1.0"', '"0.2.0"')
    assert '"engines": {"version": "1.0.0"}' in edited


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{\n   "name": "w",\n   "private": true\n}\n',
            '{\n   "name": "w",\n   "version": "3.1.4",\n   "private": true\n}\n',
        ),
        ('{"private":true,"name":"w"}', '{"private":true,"name":"w","version":"3.1.4"}'),
        (
            '{\n\t"private" : true\n}',
            '{\n\t"version" : "3.1.4",\n\t"private" : true\n}',
        ),
        ("{}", '{\n  "version": "3.1.4"\n}'),
    ],
)
def test_set_version_inserts_after_name_in_the_files_own_style(text: str, expected: str) -> None:
    assert set_version(text, "3.1.4") == expected


def test_set_version_rejects_invalid_json_naming_the_file() -> None:
    with pytest.raises(ConfigError, match=r"apps/web/package\.json is not valid JSON"):
        set_version('{"name": }', "1.0.0", path="apps/web/package.json")


async def test_plan_covers_root_and_globbed_workspaces_preserving_bytes(tmp_path: Path) -> None:
    root_text = (
        "{\n"
        '  "private": true,\n'
        '  "workspaces": ["apps/*", "packages/**", "!packages/skip-me"],\n'
        '  "version": "0.9.1-rc.1",\n'
        '  "name": "metaboost"\n'
        "}\n"
    )
    write(tmp_path, "package.json", root_text)
    api = '{\n      "name": "api",\n      "version": "0.9.1"\n}'  # no trailing newline
    write(tmp_path, "apps/api/package.json", api)
    web = '{"version":"0.9.0","name":"web","scripts":{"build":"next build"}}\n'
    write(tmp_path, "apps/web/package.json", web)
    nested = '{\n  "name": "@mb/helpers"\n}\n'  # no version: inserted after name
    write(tmp_path, "packages/lib/helpers/package.json", nested)
    write(tmp_path, "packages/skip-me/package.json", '{"name": "skip", "version": "0.0.1"}')
    write(tmp_path, "apps/api/node_modules/dep/package.json", '{"version": "5.0.0"}')
    write(tmp_path, "apps/README.md", "not a workspace")

    plan = await plan_bump(LocalTree(tmp_path), "1.0.0")

    assert plan.previous_version == "0.9.1-rc.1"
    assert plan.packages == [
        "package.json",
        "apps/api/package.json",
        "apps/web/package.json",
        "packages/lib/helpers/package.json",
    ]
    assert plan.changed["package.json"] == root_text.replace("0.9.1-rc.1", "1.0.0")
    assert plan.changed["apps/api/package.json"] == api.replace("0.9.1", "1.0.0")
    assert plan.changed["apps/web/package.json"] == web.replace("0.9.0", "1.0.0")
    assert plan.changed["packages/lib/helpers/package.json"] == (
        '{\n  "name": "@mb/helpers",\n  "version": "1.0.0"\n}\n'
    )
    assert plan.changelog_path == "docs/development/CHANGELOGS/1.0.0.md"
    assert plan.changelog_created
    assert plan.changed[plan.changelog_path] == changelog_template("1.0.0")

    written = write_plan(tmp_path, plan)
    assert sorted(written) == sorted(plan.changed)
    for path, text in plan.changed.items():
        assert (tmp_path / path).read_bytes() == text.encode()
    assert json.loads((tmp_path / "packages/skip-me/package.json").read_text())["version"] == (
        "0.0.1"
    )
    assert "5.0.0" in (tmp_path / "apps/api/node_modules/dep/package.json").read_text()


async def test_packages_object_form_and_existing_changelog(tmp_path: Path) -> None:
    write(
        tmp_path,
        "package.json",
        '{"name":"m","version":"1.0.0","workspaces":{"packages":["libs/*"]}}',
    )
    write(tmp_path, "libs/a/package.json", '{\n "name": "a",\n "version": "1.0.0"\n}\n')
    write(tmp_path, "docs/development/CHANGELOGS/1.1.0.md", "# 1.1.0\n\nmy notes\n")

    plan = await plan_bump(LocalTree(tmp_path), "1.1.0")

    assert set(plan.changed) == {"package.json", "libs/a/package.json"}
    assert not plan.changelog_created
    write_plan(tmp_path, plan)
    assert (
        tmp_path / "docs/development/CHANGELOGS/1.1.0.md"
    ).read_text() == "# 1.1.0\n\nmy notes\n"


async def test_unchanged_files_are_not_in_the_plan(tmp_path: Path) -> None:
    write(tmp_path, "package.json", '{"name": "m", "version": "2.0.0"}')
    write(tmp_path, "docs/development/CHANGELOGS/2.0.0.md", "x")
    plan = await plan_bump(LocalTree(tmp_path), "2.0.0")
    assert plan.changed == {}


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "1.2.3-rc.1", "01.2.3", "1.2.3 "])
async def test_plan_rejects_anything_but_strict_x_y_z(tmp_path: Path, version: str) -> None:
    write(tmp_path, "package.json", '{"version": "1.0.0"}')
    with pytest.raises(VersionError, match=r"X\.Y\.Z"):
        await plan_bump(LocalTree(tmp_path), version)


async def test_plan_refuses_missing_root_and_odd_workspaces(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no package\.json"):
        await plan_bump(LocalTree(tmp_path), "1.0.0")
    write(tmp_path, "package.json", '{"workspaces": "apps/*"}')
    with pytest.raises(ConfigError, match="unknown shape"):
        await plan_bump(LocalTree(tmp_path), "1.0.0")
    write(tmp_path, "package.json", '{"workspaces": ["../elsewhere/*"]}')
    with pytest.raises(ConfigError, match="outside the monorepo"):
        await plan_bump(LocalTree(tmp_path), "1.0.0")


def test_lockfile_versions_change_only_root_and_workspace_entries() -> None:
    text = (
        '{\n  "name": "m",\n  "version": "1.0.0",\n  "lockfileVersion": 3,\n  "packages": {\n'
        '    "": {"name": "m", "version": "1.0.0"},\n'
        '    "libs/a": {\n      "name": "a",\n      "license": "MIT"\n    },\n'
        '    "node_modules/a": {"resolved": "libs/a", "link": true},\n'
        '    "node_modules/dep": {"version": "1.0.0"}\n  }\n}\n'
    )
    edited = set_lockfile_versions(text, "1.1.0", ["libs/a"])
    assert edited == (
        text.replace(
            '"version": "1.0.0",\n  "lockfileVersion"', '"version": "1.1.0",\n  "lockfileVersion"'
        )
        .replace('"name": "m", "version": "1.0.0"', '"name": "m", "version": "1.1.0"')
        # A workspace entry without a version gets one after its name, in its own style.
        .replace('"name": "a",\n', '"name": "a",\n      "version": "1.1.0",\n')
    )
    assert '"node_modules/dep": {"version": "1.0.0"}' in edited


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"lockfileVersion": 1, "dependencies": {}}', r'no "packages" object'),
        ('{"packages": {"": {}}}', r"no entry for libs/a: it is out of date"),
        ('{"packages": {"libs/a": {}}}', r'no entry for "" \(the root\)'),
    ],
)
def test_lockfiles_that_cannot_be_edited_in_place_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        set_lockfile_versions(text, "1.1.0", ["libs/a"])
    assert "--regenerate-lockfile" in str(raised.value)
