"""``plan_promotion`` at its edges, against a real registry and the GitHub emulator.

The provenance check on multi-platform indexes (a regression there would let
an index built from another commit be promoted), images with no labels at all,
the full content of ``PromotionPlan.to_dict()`` (what ``plan --json`` and the
workflow summary read), and the diagnostics when nothing can be promoted.
"""

from __future__ import annotations

from typing import Any

import pytest

from metaboost_ci.core.errors import CheckFailed
from metaboost_ci.core.flows import ReleaseContext, plan_promotion, promote
from metaboost_ci.core.flows.plan import newer_release
from metaboost_ci.core.progress import RecordingProgress
from tests.support.release import APPS, ReleaseWorld
from tests.test_flows_promote import BASE, git_tag, staging

REVISION = "org.opencontainers.image.revision"


async def test_an_index_built_from_another_commit_is_passed_over(world: ReleaseWorld) -> None:
    commit, elsewhere = world.commit("ours"), world.commit("elsewhere")
    git_tag(world, 0, commit)
    git_tag(world, 1, commit)
    good = world.push_build(staging(0), commit, index_apps=(APPS[0],), seed=300)
    # Git says staging.1 is ours; the first app's two-platform index says otherwise.
    world.push_build(staging(1), elsewhere, apps=APPS[:1], index_apps=(APPS[0],), seed=301)
    world.push_build(staging(1), commit, apps=APPS[1:], seed=302)
    progress = RecordingProgress()
    async with world.context(progress=progress) as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
        index_ref = ctx.image_ref(APPS[0], staging(1))
    assert plan.n == 0
    assert plan.apps[APPS[0]].digest == good[APPS[0]].digest
    # The index's revision was read from a platform image, not its attestations.
    assert plan.apps[APPS[0]].revision == commit
    assert plan.passed_over == (
        f"{index_ref} was built from {elsewhere} (its {REVISION} label), not {commit}.",
    )
    # Whoever watches the run is told which N was chosen over which.
    assert any(line.startswith(f"Chose {staging(0)}; passed over: ") for line in progress.lines)


async def test_images_without_labels_are_promoted_on_the_git_tag_alone(
    world: ReleaseWorld,
) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    # No revision label anywhere (an index among them): Git's tag is the only provenance.
    build = world.push_build(staging(0), None, index_apps=(APPS[1],), seed=310)
    async with world.context() as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
    assert plan.n == 0
    assert {a: p.revision for a, p in plan.apps.items()} == dict.fromkeys(APPS)
    assert {a: p.digest for a, p in plan.apps.items()} == {a: build[a].digest for a in APPS}
    assert plan.passed_over == ()


def expected_app(ctx: ReleaseContext, app: str, digest: str, **rest: Any) -> dict[str, Any]:
    return {
        "app": app,
        "image": ctx.image(app),
        "source": staging(0),
        "digest": digest,
        **rest,
    }


async def test_to_dict_of_a_first_promotion_then_of_its_rerun(world: ReleaseWorld) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    build = world.push_build(staging(0), commit, seed=320)
    async with world.context() as ctx:
        first = await plan_promotion(ctx, commit=commit, base=BASE)
        await promote(ctx, commit=commit, base=BASE, notes="notes")
        again = await plan_promotion(ctx, commit=commit, base=BASE)

        def apps(base: str, latest: str) -> dict[str, Any]:
            return {
                a: expected_app(ctx, a, build[a].digest, base=base, latest=latest, revision=commit)
                for a in APPS
            }

        fresh, rerun = apps("create", "move"), apps("exists", "exists")
    common = {
        "base": BASE,
        "commit": commit,
        "n": 0,
        "source": staging(0),
        "passed_over": [],
        "newer_release": None,
        "held_by_rollback": None,
        "moves_latest": True,
    }
    assert first.to_dict() == {**common, "git_tag": "create", "apps": fresh}
    assert again.to_dict() == {**common, "git_tag": "exists", "apps": rerun}


async def test_to_dict_when_a_newer_release_keeps_latest(world: ReleaseWorld) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    build = world.push_build(staging(0), commit, seed=330)
    # Another app line was already released higher (a hotfix on an older line).
    newer = world.push_build("3.2.0", None, apps=APPS[2:3], seed=331)
    world.retag(APPS[2], newer[APPS[2]], "latest")
    world.retag(APPS[0], build[APPS[0]], BASE)
    async with world.context() as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
        expected = {
            a: expected_app(
                ctx,
                a,
                build[a].digest,
                base="exists" if a == APPS[0] else "create",
                latest="kept",
                revision=commit,
            )
            for a in APPS
        }
    data = plan.to_dict()
    assert data["newer_release"] == "3.2.0"
    assert data["held_by_rollback"] is None
    assert data["moves_latest"] is False
    assert data["apps"] == expected
    # The app's own view (what promote would do without the newer release) is unchanged.
    assert plan.apps[APPS[2]].to_dict()["latest"] == "move"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param(["3.2.0", "3.10.0", "3.9.9"], "3.10.0", id="numeric-not-text-order"),
        pytest.param(["3.1.0", "3.0.9", "latest"], None, id="base-itself-is-not-newer"),
        pytest.param(["3.1.1-rc.1", "3.2.0-staging.4", "v4.0.0"], None, id="only-releases"),
        pytest.param(["3.1.1"], "3.1.1", id="a-patch-above"),
        pytest.param([], None, id="none"),
    ],
)
def test_newer_release(tags: list[str], expected: str | None) -> None:
    assert newer_release(tags, BASE) == expected


async def test_no_git_tag_at_all_is_said_with_where_the_tags_were_looked_for(
    world: ReleaseWorld,
) -> None:
    commit = world.commit()
    world.push_build(staging(0), commit, apps=APPS[:1], seed=340)
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as caught:
            await plan_promotion(ctx, commit=commit, base=BASE)
        where = ctx.tags.description
        images = [ctx.image(a) for a in APPS]
    error = caught.value
    assert error.message.startswith(
        f"No {BASE}-staging.N can be promoted for commit {commit}: none is present on "
        "every app with its Git tag at this commit.\n"
    )
    assert error.problems == [
        f"No Git tag {BASE}-staging.N exists in {where}.",
        f"{images[0]} has N = 0 (no Git tag).",
        *(f"{image} has no {BASE}-staging.N tag." for image in images[1:]),
    ]
    assert error.fix == "Publish staging from this commit (every app), then promote again."


async def test_builds_without_a_git_tag_are_told_apart_from_those_with_one(
    world: ReleaseWorld,
) -> None:
    commit, other = world.commit("ours"), world.commit("other")
    git_tag(world, 0, other)
    git_tag(world, 2, commit)
    git_tag(world, 3, commit)
    world.push_build(staging(0), other, seed=350)
    world.push_build(staging(1), commit, seed=351)  # its Git tag was never made
    world.push_build(staging(2), commit, apps=APPS[:-1], seed=352)
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as caught:
            await plan_promotion(ctx, commit=commit, base=BASE)
        images = [ctx.image(a) for a in APPS]
    o, c = other[:12], commit[:12]
    assert caught.value.problems == [
        f"Git tags {BASE}-staging.N: 0 at {o}, 2 at {c}, 3 at {c}.",
        *(f"{image} has N = 0 (from {o}), 1 (no Git tag), 2 (from {c})." for image in images[:-1]),
        f"{images[-1]} has N = 0 (from {o}), 1 (no Git tag).",
        f"N built from {c}: 2, 3; no app may lack the chosen N.",
    ]


async def test_base_of_another_commit_is_refused_saying_both_commits(world: ReleaseWorld) -> None:
    commit, released = world.commit("ours"), world.commit("released")
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, seed=360)
    world.github.repos.remote_tag_create(BASE, released)
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as caught:
            await plan_promotion(ctx, commit=commit, base=BASE)
    assert caught.value.message == (
        f"Git tag {BASE} already points at {released}, not at {commit}; refusing to "
        "promote (nothing was written)."
    )
    assert caught.value.fix == (
        f"{BASE} was released from another commit; bump the version for this one."
    )


async def test_base_naming_other_images_everywhere_says_immutable(world: ReleaseWorld) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    build = world.push_build(staging(0), commit, seed=370)
    squatter = world.push_build(BASE, None, apps=APPS[:1], seed=371)
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as caught:
            await plan_promotion(ctx, commit=commit, base=BASE)
        base_ref = ctx.image_ref(APPS[0], BASE)
    error = caught.value
    assert error.problems == [
        f"{base_ref} already names {squatter[APPS[0]].digest}, not {staging(0)}'s "
        f"{build[APPS[0]].digest}; immutable tags never move."
    ]
    assert error.message.startswith(
        f"Refusing to promote to {BASE}: it already exists with other images "
        "(nothing was written):\n"
    )
    assert error.fix == (
        f"Immutable tags never move; release this commit as a new version (bump past {BASE})."
    )


async def test_a_mix_of_clashes_and_other_commits_is_not_called_a_clash(
    world: ReleaseWorld,
) -> None:
    commit, elsewhere = world.commit("ours"), world.commit("elsewhere")
    git_tag(world, 0, commit)
    git_tag(world, 1, commit)
    world.push_build(staging(0), commit, seed=380)
    world.push_build(staging(1), elsewhere, seed=381)
    world.push_build(BASE, None, apps=APPS[:1], seed=382)
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as caught:
            await plan_promotion(ctx, commit=commit, base=BASE)
    error = caught.value
    assert error.message.startswith(
        f"No {BASE}-staging.N built from {commit} can be promoted (nothing was written):\n"
    )
    # staging.1 (tried first): every app from elsewhere, and the clash; then staging.0's clash.
    assert len(error.problems) == len(APPS) + 2
    assert sum("immutable tags never move" in p for p in error.problems) == 2
    assert error.fix == "Publish staging from this commit again, then promote."


async def test_a_single_image_s_manifest_is_read_once(world: ReleaseWorld) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, seed=390)
    manifest_reads = rf"/{APPS[0]}/manifests/"
    before = world.origin.count("GET", manifest_reads)
    async with world.context() as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
    assert plan.apps[APPS[0]].revision == commit
    # The labels are read from the manifest already fetched, not from a second GET.
    assert world.origin.count("GET", manifest_reads) == before + 1


async def test_the_newest_release_across_apps_is_compared_as_versions(
    world: ReleaseWorld,
) -> None:
    commit = world.commit()
    git_tag(world, 0, commit)
    world.push_build(staging(0), commit, seed=400)
    # As text "3.9.0" > "3.10.0"; as versions 3.10.0 is the newest.
    world.push_build("3.10.0", None, apps=APPS[:1], seed=401)
    world.push_build("3.9.0", None, apps=APPS[1:2], seed=402)
    async with world.context() as ctx:
        plan = await plan_promotion(ctx, commit=commit, base=BASE)
    assert plan.newer_release == "3.10.0"
