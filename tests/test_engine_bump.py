"""bump-version over a Directory: devtools.monorepo's plan, only changed files, lockfile included.

The stand-in answers the Directory's reads (exists, contents, glob) from the
sample monorepo on disk, so the plan is made from real package.json files.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError

from metaboost_ci.core.errors import ConfigError
from metaboost_ci.devtools.monorepo import LocalTree, plan_bump
from metaboost_ci.engine.bump import DirectoryTree, bump_version, read_base_version
from metaboost_ci.engine.main import MetaboostCi
from tests.support.dagger_offline import Call, StandInSession, chain, execs

SAMPLE = Path(__file__).resolve().parents[1] / "sample"


class SampleFiles:
    """The sample's files as the Directory's answers; ``files`` may be edited per test."""

    def __init__(self, session: StandInSession, root: Path = SAMPLE) -> None:
        self.files = {
            p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in root.rglob("*")
            if p.is_file() and "node_modules" not in p.parts
        }
        session.respond("Directory.exists", lambda calls: self.path(calls) in self.files)
        session.respond("File.contents", lambda calls: self.files[self.path(calls)])
        session.respond("Directory.glob", self.glob)

    @staticmethod
    def path(calls: list[Call]) -> str:
        return [c for c in calls if c.field in ("file", "exists")][-1].args["path"]

    def glob(self, calls: list[Call]) -> list[str]:
        pattern = calls[-1].args["pattern"]
        return sorted(p for p in self.files if fnmatch.fnmatch(p, pattern))


async def test_the_directory_tree_reads_like_the_local_tree(dagger_standin: StandInSession) -> None:
    SampleFiles(dagger_standin)
    remote = await plan_bump(DirectoryTree(dag.directory()), "0.2.0")
    local = await plan_bump(LocalTree(SAMPLE), "0.2.0")
    assert remote == local
    assert await DirectoryTree(dag.directory()).read("no/such/file") is None


async def test_bump_returns_only_the_changed_files_lockfile_versions_included(
    dagger_standin: StandInSession,
) -> None:
    files = SampleFiles(dagger_standin)
    source = dag.directory().with_new_file("marker", "the monorepo")
    plan, changes = await bump_version(source, "0.2.0")
    written = {a["path"]: a["contents"] for a in args_of_chain(changes, "withNewFile")}
    assert written == plan.changed
    assert "package.json" in written
    assert "apps/web/package.json" in written
    assert "docs/development/CHANGELOGS/0.2.0.md" in written
    assert json.loads(written["apps/web/package.json"])["version"] == "0.2.0"
    # Unchanged files are not in the result (sources, Dockerfiles, the old changelog).
    assert not any(p.endswith((".js", "Dockerfile")) for p in written)
    # The lockfile's versions are edited in place: nothing runs npm.
    lock = files.files["package-lock.json"]
    assert written["package-lock.json"] == lock.replace('"version": "0.1.0"', '"version": "0.2.0"')
    assert args_of_chain(changes, "withFile") == []
    await changes.sync()
    [synced] = dagger_standin.leaves("Directory.sync")
    assert execs(synced) == []


def args_of_chain(obj: object, name: str) -> list[dict[str, object]]:
    return [args for field, args in chain(obj) if field == name]


async def test_an_existing_changelog_is_kept(dagger_standin: StandInSession) -> None:
    SampleFiles(dagger_standin)
    plan, _ = await bump_version(dag.directory(), "0.1.1")
    assert "docs/development/CHANGELOGS/0.1.1.md" in plan.changed
    plan, _ = await bump_version(dag.directory(), "0.1.0")
    assert plan.changed == {}
    assert not plan.changelog_created


async def test_the_function_refuses_a_bad_version_before_reading(
    dagger_standin: StandInSession,
) -> None:
    with pytest.raises(FunctionError, match=r"X\.Y\.Z"):
        await MetaboostCi(source=dag.directory()).bump_version(version="1.2")
    assert dagger_standin.queries == []


async def test_the_base_version_comes_from_the_root_package_json(
    dagger_standin: StandInSession,
) -> None:
    files = SampleFiles(dagger_standin)
    assert await read_base_version(dag.directory()) == "0.1.0"
    files.files["package.json"] = '{"version": "2.3.4-rc.1"}'
    assert await read_base_version(dag.directory()) == "2.3.4"
    files.files["package.json"] = '{"version": "two"}'
    with pytest.raises(ConfigError, match="not SemVer"):
        await read_base_version(dag.directory())
    del files.files["package.json"]
    with pytest.raises(ConfigError, match=r"no package\.json"):
        await read_base_version(dag.directory())
