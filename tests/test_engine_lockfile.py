"""lockfile: node:24 on linux/amd64, no node_modules, npm install, the right file back."""

from __future__ import annotations

from dagger import dag

from metaboost_ci.engine.lockfile import regenerate_lockfile
from metaboost_ci.engine.main import MetaboostCi
from metaboost_ci.engine.node import RUN_VARIABLE
from tests.support.dagger_offline import (
    StandInSession,
    args_of,
    calls_named,
    chain,
    execs,
    render,
)


def test_the_lockfile_is_made_by_npm_install_in_node_24_on_linux_amd64() -> None:
    source = dag.directory().with_new_file("package.json", "{}")
    lockfile = regenerate_lockfile(source, run_id="r1")
    calls = chain(lockfile)
    assert calls[0] == ("container", {"platform": "linux/amd64"})
    assert calls_named(lockfile, "from") == [{"address": "node:24"}]
    [mounted] = calls_named(lockfile, "withDirectory")
    assert mounted["path"] == "/src"
    assert mounted["source"] is source
    assert calls_named(lockfile, "withWorkdir") == [{"path": "/src"}]
    commands = [args["args"] for args in calls_named(lockfile, "withExec")]
    assert commands == [
        ["sh", "-c", "find . -name node_modules -type d -prune -exec rm -rf {} +"],
        ["npm", "install", "--include=optional", "--no-audit", "--no-fund"],
    ]
    assert calls[-1] == ("file", {"path": "/src/package-lock.json"})
    # npm install resolves against the registry as it is now: this run's own exec.
    install = calls.index(("withExec", {"args": commands[-1]}))
    assert ("withEnvVariable", {"name": RUN_VARIABLE, "value": "r1"}) in calls[:install]


def test_each_run_regenerates_the_lockfile_afresh() -> None:
    source = dag.directory()
    first = calls_named(regenerate_lockfile(source, run_id="r1"), "withEnvVariable")
    second = calls_named(regenerate_lockfile(source, run_id="r2"), "withEnvVariable")
    assert first != second


def test_npm_downloads_go_to_the_shared_cache_volume() -> None:
    lockfile = regenerate_lockfile(dag.directory(), run_id="r1")
    [cache] = calls_named(lockfile, "withMountedCache")
    assert cache["path"] == "/root/.npm"
    assert chain(cache["cache"]) == [("cacheVolume", {"key": "metaboost-ci-npm"})]


async def test_the_lockfile_function_renders_to_a_valid_query(
    dagger_standin: StandInSession,
) -> None:
    dagger_standin.respond("File.contents", '{"lockfileVersion": 3}')
    lockfile = MetaboostCi(source=dag.directory()).lockfile()
    assert await lockfile.contents() == '{"lockfileVersion": 3}'
    [answered] = dagger_standin.leaves("File.contents")
    assert execs(answered)[-1][:2] == ["npm", "install"]
    assert args_of(answered, "file") == [{"path": "/src/package-lock.json"}]


async def test_the_lockfile_query_as_the_engine_receives_it(dagger_standin: StandInSession) -> None:
    text = await render(dagger_standin, regenerate_lockfile(dag.directory(), run_id="r1"))
    assert text.startswith('{\n  container(platform: "linux/amd64") {')
    assert 'from: from(address: "node:24")' in text
    assert 'file: file(path: "/src/package-lock.json")' in text
