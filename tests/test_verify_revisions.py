"""``verify`` with ``revisions``: the revision labels of exactly the verified images.

Against a real docker-registry: single images, an index whose attestation
manifests must be skipped, an image with no label; then the command line's
``--revisions`` (its JSON and its table), including the ``--apps`` subset
``tools.CliOps.present`` asks for.
"""

from __future__ import annotations

from metaboost_ci.core.flows import verify
from tests.support.release import APPS, ReleaseWorld, run_cli

VERSION = "1.4.0-staging.2"


async def test_revisions_are_read_per_runnable_image_attestations_skipped(
    world: ReleaseWorld,
) -> None:
    commit = world.commit()
    # APPS[0]: a two-platform index with attestations; APPS[-1]: no label at all.
    pushed = world.push_build(VERSION, commit, apps=APPS[:-1], index_apps=(APPS[0],), seed=1)
    pushed |= world.push_build(VERSION, None, apps=APPS[-1:], seed=2)
    async with world.context() as ctx:
        result = await verify(ctx, version=VERSION, revisions=True)
    assert result.digests == {app: pushed[app].digest for app in APPS}
    assert result.revisions is not None
    # Two platform images in the index; its two attestations are not images to run.
    assert len(pushed[APPS[0]].children) == 4
    assert result.revisions[APPS[0]] == [commit, commit]
    for app in APPS[1:-1]:
        assert result.revisions[app] == [commit]
    assert result.revisions[APPS[-1]] == [""]
    assert result.to_dict()["revisions"] == result.revisions


async def test_revisions_are_read_from_the_verified_digest_not_the_tag(
    world: ReleaseWorld,
) -> None:
    first, second = world.commit("one"), world.commit("two")
    world.push_build(VERSION, first, seed=3)
    async with world.context() as ctx:
        before = await verify(ctx, version=VERSION, revisions=True)
        # The tag now names another commit's build: a fresh verify says so.
        world.push_build(VERSION, second, seed=4)
        after = await verify(ctx, version=VERSION, revisions=True)
    assert before.revisions == {app: [first] for app in APPS}
    assert after.revisions == {app: [second] for app in APPS}
    assert after.digests != before.digests


async def test_a_plain_verify_reads_no_labels(world: ReleaseWorld) -> None:
    world.push_build(VERSION, world.commit(), seed=5)
    manifests, blobs = r"/manifests/", r"/blobs/"
    before = world.origin.count("GET", manifests), world.origin.count("GET", blobs)
    async with world.context() as ctx:
        result = await verify(ctx, version=VERSION)
    assert result.revisions is None
    assert "revisions" not in result.to_dict()
    # Each manifest read once (its digest hashed from the bytes), no config.
    assert world.origin.count("GET", manifests) == before[0] + len(APPS)
    assert world.origin.count("GET", blobs) == before[1]
    async with world.context() as ctx:
        await verify(ctx, version=VERSION, revisions=True)
    # With revisions: a config per app more; the manifests are not read twice.
    assert world.origin.count("GET", manifests) == before[0] + 2 * len(APPS)
    assert world.origin.count("GET", blobs) == before[1] + len(APPS)


def test_the_command_line_prints_revisions_in_json_and_in_the_table(world: ReleaseWorld) -> None:
    commit = world.commit()
    world.push_build(VERSION, commit, index_apps=(APPS[1],), seed=6)
    env, cli = world.env(), world.cli_options()

    plain = run_cli([*cli, "verify", "--version", VERSION, "--json"], env=env, cwd=world.work)
    assert plain.code == 0, plain.all_output
    assert "revisions" not in plain.json()

    done = run_cli(
        [*cli, "verify", "--version", VERSION, "--revisions", "--json"], env=env, cwd=world.work
    )
    assert done.code == 0, done.all_output
    data = done.json()
    assert set(data) >= {"version", "float_tag", "digests", "revisions"}
    assert data["revisions"] == {
        app: [commit, commit] if app == APPS[1] else [commit] for app in APPS
    }

    table = run_cli([*cli, "verify", "--version", VERSION, "--revisions"], env=env, cwd=world.work)
    assert table.code == 0, table.all_output
    header = table.out.splitlines()[1]
    assert header.split()[-1] == "revision"
    # The index's two images share one revision: said once.
    assert sum(commit in line for line in table.out.splitlines()) == len(APPS)
    assert f"{commit}, {commit}" not in table.out


def test_the_apps_subset_cli_ops_asks_for_verifies_only_those(world: ReleaseWorld) -> None:
    commit = world.commit()
    world.push_build(VERSION, commit, apps=APPS[:2], seed=7)
    env, cli = world.env(), world.cli_options()
    # What CliOps.present runs once discover named the apps that have the version.
    subset = ",".join(APPS[:2])
    done = run_cli(
        [*cli, "verify", "--apps", subset, "--version", VERSION, "--revisions", "--json"],
        env=env,
        cwd=world.work,
    )
    assert done.code == 0, done.all_output
    assert done.json()["revisions"] == {app: [commit] for app in APPS[:2]}
    # Without the subset the missing apps fail the verification, as they should.
    whole = run_cli([*cli, "verify", "--version", VERSION, "--revisions"], env=env, cwd=world.work)
    assert whole.code != 0
