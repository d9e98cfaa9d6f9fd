"""build and build-all: Dockerfile, context, platform and labels, read from the call chain."""

from __future__ import annotations

import json
from pathlib import Path

import dagger
import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError

from metaboost_ci.core.apps import DEFAULT_APPS, dockerfile_path
from metaboost_ci.core.errors import CheckFailed, InputError
from metaboost_ci.engine.build import (
    LABEL_CREATED,
    LABEL_REVISION,
    LABEL_SOURCE,
    LABEL_VERSION,
    ImageMeta,
    build_app,
    build_images,
    parse_platforms,
    sync_all,
)
from metaboost_ci.engine.main import MetaboostCi
from tests.support.dagger_offline import (
    Call,
    QueryFailure,
    StandInSession,
    args_of,
    calls_named,
    chain,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
META = ImageMeta(
    revision=SHA,
    version="1.2.0-staging.3",
    source="https://github.com/acme/metaboost",
    created="2026-01-02T03:04:05Z",
)
SAMPLE = Path(__file__).resolve().parents[1] / "sample"


def test_build_uses_the_apps_dockerfile_from_the_repository_root() -> None:
    source = dag.directory().with_new_file("marker", "the repository root")
    container = build_app(source, "management-web", "linux/amd64", META)
    calls = chain(container)
    # The context is the source itself: the chain starts with it, then dockerBuild.
    assert calls[: len(chain(source))] == chain(source)
    [docker_build] = calls_named(container, "dockerBuild")
    assert docker_build["dockerfile"] == "infra/docker/local/management-web/Dockerfile"
    assert docker_build["platform"] == "linux/amd64"
    assert calls[len(chain(source))][0] == "dockerBuild"


def test_build_labels_the_image_with_revision_source_version_created() -> None:
    labels = {
        a["name"]: a["value"]
        for a in calls_named(build_app(dag.directory(), "api", "linux/amd64", META), "withLabel")
    }
    assert labels == {
        LABEL_REVISION: SHA,
        LABEL_SOURCE: "https://github.com/acme/metaboost",
        LABEL_VERSION: "1.2.0-staging.3",
        LABEL_CREATED: "2026-01-02T03:04:05Z",
    }


def test_a_label_without_a_value_is_left_out() -> None:
    meta = ImageMeta(revision="", version="1.2.0", source="", created="2026-01-02T03:04:05Z")
    names = [
        a["name"]
        for a in calls_named(build_app(dag.directory(), "api", "linux/amd64", meta), "withLabel")
    ]
    assert names == [LABEL_VERSION, LABEL_CREATED]


def test_platforms_default_to_linux_amd64_and_are_checked() -> None:
    assert parse_platforms(None) == ["linux/amd64"]
    assert parse_platforms(["linux/amd64", "linux/arm64/v8"]) == ["linux/amd64", "linux/arm64/v8"]
    with pytest.raises(InputError, match="os/arch"):
        parse_platforms(["amd64"])
    with pytest.raises(InputError, match="twice"):
        parse_platforms(["linux/amd64", "linux/amd64"])


def test_several_platforms_give_one_variant_per_platform() -> None:
    images = build_images(dag.directory(), DEFAULT_APPS, ["linux/amd64", "linux/arm64"], META)
    assert [i.app for i in images] == list(DEFAULT_APPS)
    for image in images:
        platforms = [calls_named(v, "dockerBuild")[0]["platform"] for v in image.variants]
        assert platforms == ["linux/amd64", "linux/arm64"] == list(image.platforms)


async def test_build_all_builds_every_variant_in_one_session(
    dagger_standin: StandInSession,
) -> None:
    images = build_images(dag.directory(), DEFAULT_APPS, ["linux/amd64", "linux/arm64"], META)
    built = await sync_all(images)
    synced = dagger_standin.leaves("Container.sync")
    assert len(synced) == 12
    dockerfiles = {
        (args_of(c, "dockerBuild")[0]["dockerfile"], args_of(c, "dockerBuild")[0]["platform"])
        for c in synced
    }
    assert dockerfiles == {
        (f"infra/docker/local/{app}/Dockerfile", platform)
        for app in DEFAULT_APPS
        for platform in ("linux/amd64", "linux/arm64")
    }
    assert [b.app for b in built] == list(DEFAULT_APPS)


async def test_a_failed_build_names_the_app_and_platform(dagger_standin: StandInSession) -> None:
    def sync(calls: list[Call]) -> str:
        build = args_of(calls, "dockerBuild")[0]
        if build["dockerfile"].endswith("/web/Dockerfile") and build["platform"] == "linux/arm64":
            raise QueryFailure("failed to solve: npm ci: exit code 1")
        return dagger_standin._make_id("Container", calls)

    dagger_standin.respond("Container.sync", sync)
    images = build_images(dag.directory(), DEFAULT_APPS, ["linux/amd64", "linux/arm64"], META)
    with pytest.raises(CheckFailed) as failed:
        await sync_all(images)
    assert failed.value.problems == [
        "web (linux/arm64): QueryError: failed to solve: npm ci: exit code 1"
    ]
    # Every other variant still ran to its end (one session, one report).
    assert len(dagger_standin.leaves("Container.sync")) == 12


def sample_files(dagger_standin: StandInSession) -> None:
    """Answer Directory.exists / File.contents from the sample monorepo on disk."""

    def path_of(calls: list[Call]) -> Path:
        return SAMPLE / [c for c in calls if c.field in ("file", "exists")][-1].args["path"]

    dagger_standin.respond("Directory.exists", lambda calls: path_of(calls).is_file())
    dagger_standin.respond(
        "File.contents", lambda calls: path_of(calls).read_text(encoding="utf-8")
    )


async def test_the_build_function_labels_with_package_json_version_by_default(
    dagger_standin: StandInSession,
) -> None:
    sample_files(dagger_standin)
    module = MetaboostCi(source=dag.directory(), repository="Acme/Metaboost")
    container = await module.build(app="web-sidecar", commit=SHA)
    labels = {a["name"]: a["value"] for a in calls_named(container, "withLabel")}
    assert labels[LABEL_VERSION] == json.loads((SAMPLE / "package.json").read_text())["version"]
    assert labels[LABEL_REVISION] == SHA
    assert labels[LABEL_SOURCE] == "https://github.com/Acme/Metaboost"
    # The whole build renders to a query the engine's schema accepts.
    await container.sync()
    assert "dockerBuild" in dagger_standin.texts()[-1]


async def test_build_refuses_an_unknown_app_before_any_query(
    dagger_standin: StandInSession,
) -> None:
    module = MetaboostCi(source=dag.directory(), apps=["api", "web"])
    with pytest.raises(FunctionError, match="Choose from: api, web"):
        await module.build(app="management-api")
    assert dagger_standin.queries == []


@pytest.mark.parametrize("apps", [["", ""], [" "], []])
async def test_a_module_app_list_naming_no_app_is_refused_before_any_query(
    dagger_standin: StandInSession, apps: list[str]
) -> None:
    # `dagger call --apps ','` hands the module two empty names.
    module = MetaboostCi(source=dag.directory(), apps=apps)
    with pytest.raises(FunctionError, match="names no app"):
        await module.build(app="api")
    assert dagger_standin.queries == []


async def test_build_all_returns_every_variant(dagger_standin: StandInSession) -> None:
    module = MetaboostCi(source=dag.directory(), apps=["api", "web"])
    containers = await module.build_all(platforms=["linux/amd64", "linux/arm64"], version="9.9.9")
    assert len(containers) == 4
    assert all(isinstance(c, dagger.Container) for c in containers)


def test_the_sample_dockerfiles_share_their_prefix_up_to_the_package_build() -> None:
    """What lets one session build the shared steps once: identical instructions."""

    def instructions(app: str) -> list[str]:
        text = (SAMPLE / dockerfile_path(app)).read_text(encoding="utf-8")
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    prefixes = set()
    for app in DEFAULT_APPS:
        lines = instructions(app)
        end = lines.index("RUN npm run build:packages") + 1
        prefixes.add(tuple(lines[:end]))
        assert lines[0] == "FROM node:24"
        assert f"COPY apps/{app}/ apps/{app}/" in lines[end:]
    [prefix] = prefixes
    assert "RUN npm ci --include=optional --no-audit --no-fund" in prefix
