"""The six sample images built for real with buildah, run, and smoke-checked.

No Dagger engine or Docker daemon runs here, but buildah does (as root,
overlay storage, chroot isolation): this builds the sample's six Dockerfiles
exactly as the engine would (the sample root as context, without the
engine's SOURCE_IGNORE paths) and runs the images.

``FROM node:24`` resolves to a STAND-IN, not Node 24: an image made FROM
scratch out of this machine's Node.js and npm (tests/support/containers.py,
``build_node_standin``), tagged ``docker.io/library/node:24``, because there
is no network to pull the real one. What is checked does not depend on the
Node version: the Dockerfiles build (``npm ci``, ``npm run build:packages``,
``USER node``), their shared prefix is built once, and the images behave as
engine/smoke.py expects:

- the five builds after the first take every shared step from the layer
  cache, and all six images share those layers;
- each image starts and stays up (smoke's probe, run in a node:24
  container, answered twice), as the ``node`` user;
- web and management-web serve their running sidecar's configuration, fall
  back to their environment when the sidecar is unreachable, and refuse to
  start without ``RUNTIME_CONFIG_URL``.

Chroot isolation shares the host's network, so each container gets a free
``PORT`` on 127.0.0.1 (the apps listen on ``$PORT``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS, SIDECARS, dockerfile_path
from metaboost_ci.engine.smoke import (
    MARKER,
    PROBE_JS,
    RUNTIME_CONFIG_PATH,
    UNREACHABLE_CONFIG_URL,
    SmokeOptions,
    read_runtime_config,
    stay_up_env,
)
from tests.support import containers
from tests.support.containers import (
    NODE_STANDIN_TAG,
    NODE_UID,
    SAMPLE,
    Buildah,
    Running,
    SampleImages,
    sample_tag,
)
from tests.support.ports import LOOPBACK, port_open
from tests.test_sample_runtime_config import WEB_APPS

OPTIONS = SmokeOptions(run_id="buildah")
StartApp = Callable[..., Running]


def instructions(app: str) -> list[str]:
    """The app's Dockerfile instructions, one per line, comments dropped."""
    lines = (SAMPLE / dockerfile_path(app)).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def shared_prefix() -> list[str]:
    """The instructions every Dockerfile starts with (the FROM included)."""
    every = [instructions(app) for app in DEFAULT_APPS]
    prefix: list[str] = []
    for step in zip(*every, strict=False):
        if len(set(step)) != 1:
            break
        prefix.append(step[0])
    return prefix


def layers(images: SampleImages, tag: str) -> list[str]:
    """The local image's layers (diff ids), bottom first."""
    return list(images.buildah.inspect(tag)["OCIv1"]["rootfs"]["diff_ids"])


def test_the_six_dockerfiles_share_their_steps_down_to_the_package_build() -> None:
    prefix = shared_prefix()
    assert prefix[0] == "FROM node:24"
    assert prefix[-1] == "RUN npm run build:packages"


def test_the_first_build_runs_the_shared_steps_and_the_five_others_reuse_them(
    sample_images: SampleImages,
) -> None:
    first, *others = DEFAULT_APPS
    assert sample_images.apps[first].cached_steps() == []
    # FROM takes no layer of its own; every later shared step comes from the cache.
    reused = shared_prefix()[1:]
    for app in others:
        cached = sample_images.apps[app].cached_steps()
        assert cached == reused, f"{app} rebuilt shared steps:\n{sample_images.apps[app].output}"


def test_the_six_images_share_every_layer_but_their_own_app(sample_images: SampleImages) -> None:
    by_app = {app: layers(sample_images, sample_tag(app)) for app in DEFAULT_APPS}
    base = layers(sample_images, NODE_STANDIN_TAG)
    shared = by_app[DEFAULT_APPS[0]][:-1]
    assert shared[: len(base)] == base
    assert len(shared) > len(base)
    for app, app_layers in by_app.items():
        assert app_layers[:-1] == shared, app
    assert len({app_layers[-1] for app_layers in by_app.values()}) == len(DEFAULT_APPS)


@pytest.fixture
def start(sample_images: SampleImages) -> Iterator[StartApp]:
    """Start an app's image with extra environment; stopped at teardown."""
    started: list[Running] = []

    def run(app: str, **env: str) -> Running:
        running = sample_images.buildah.start(sample_tag(app), env, what=app)
        started.append(running)
        return running

    yield run
    for running in started:
        running.stop()


def start_probe(buildah: Buildah, url: str, stay_ms: int) -> subprocess.Popen[str]:
    """smoke's probe (two GETs ``stay_ms`` apart) in its own node:24 container."""
    container = buildah.container(NODE_STANDIN_TAG)
    return subprocess.Popen(
        buildah.run_argv(container, ["node", "-e", PROBE_JS, url, str(stay_ms)]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def probe_answer(probe: subprocess.Popen[str], what: str) -> dict[str, Any]:
    out, err = probe.communicate(timeout=60)
    assert probe.returncode == 0, f"{what}: the probe failed: {err}"
    return json.loads(out)


def probe(buildah: Buildah, app: Running, path: str, stay_ms: int = 0) -> dict[str, Any]:
    url = f"http://{LOOPBACK}:{app.port}{path}"
    return probe_answer(start_probe(buildah, url, stay_ms), app.name)


@pytest.fixture(scope="module")
def stayed_up(sample_images: SampleImages) -> Iterator[dict[str, tuple[Running, dict[str, Any]]]]:
    """All six started as the smoke test starts them, probed concurrently, still running."""
    buildah = sample_images.buildah
    running = {
        app: buildah.start(sample_tag(app), stay_up_env(app, OPTIONS), what=app)
        for app in DEFAULT_APPS
    }
    try:
        stay_ms = int(OPTIONS.stay_seconds * 1000)
        probes = {
            app: start_probe(buildah, f"http://{LOOPBACK}:{r.port}/healthz", stay_ms)
            for app, r in running.items()
        }
        yield {app: (running[app], probe_answer(p, app)) for app, p in probes.items()}
    finally:
        for r in running.values():
            r.stop()


@pytest.mark.parametrize("app", DEFAULT_APPS)
def test_each_image_starts_and_stays_up_as_the_node_user(
    stayed_up: dict[str, tuple[Running, dict[str, Any]]], app: str
) -> None:
    running, answer = stayed_up[app]
    assert answer["first"]["status"] == answer["second"]["status"] == 200
    health = json.loads(answer["second"]["body"])
    assert (health["app"], health["status"]) == (app, "ok")
    assert health["uptimeMs"] >= OPTIONS.stay_seconds * 1000
    assert running.alive(), running.output()
    # USER node: the app's process runs as node:24's node user, not root.
    assert running.uids() == {NODE_UID}


@pytest.mark.parametrize(("web", "sidecar"), sorted(SIDECARS.items()))
def test_the_web_app_serves_its_running_sidecars_configuration(
    sample_images: SampleImages, start: StartApp, web: str, sidecar: str
) -> None:
    assert (web, sidecar) in WEB_APPS
    side = start(sidecar, **{MARKER: OPTIONS.marker("sidecar"), "OTHER": "not public"})
    app = start(
        web,
        RUNTIME_CONFIG_URL=f"http://{LOOPBACK}:{side.port}{RUNTIME_CONFIG_PATH}",
        **{MARKER: OPTIONS.marker("env")},
    )
    what = f"{web} with {sidecar}"
    used = read_runtime_config(what, probe(sample_images.buildah, app, RUNTIME_CONFIG_PATH))
    assert used["source"] == "sidecar"
    assert used["config"] == {MARKER: OPTIONS.marker("sidecar")}


@pytest.mark.parametrize("web", sorted(SIDECARS))
def test_with_its_sidecar_unreachable_the_web_app_falls_back_to_its_environment(
    sample_images: SampleImages, start: StartApp, web: str
) -> None:
    # Chroot isolation shares the host's network: smoke's "nothing there"
    # address must be free here too for the check to mean anything.
    assert not port_open(9)
    app = start(web, RUNTIME_CONFIG_URL=UNREACHABLE_CONFIG_URL, **{MARKER: OPTIONS.marker("env")})
    what = f"{web} without its sidecar"
    used = read_runtime_config(what, probe(sample_images.buildah, app, RUNTIME_CONFIG_PATH))
    assert used["source"] == "env"
    assert used["config"] == {MARKER: OPTIONS.marker("env")}
    assert used["lastError"]


@pytest.mark.parametrize("web", sorted(SIDECARS))
def test_without_runtime_config_url_the_web_image_refuses_to_start(
    sample_images: SampleImages, web: str
) -> None:
    buildah = sample_images.buildah
    container = buildah.container(sample_tag(web))
    cmd = buildah.inspect(sample_tag(web))["OCIv1"]["config"]["Cmd"]
    done = subprocess.run(
        buildah.run_argv(container, cmd),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "RUNTIME_CONFIG_URL is not set" in done.stderr + done.stdout


def test_the_node_24_standin_runs_this_machines_node(sample_images: SampleImages) -> None:
    buildah = sample_images.buildah
    inside = buildah.exec(buildah.container(NODE_STANDIN_TAG), ["node", "--version"]).strip()
    outside = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    assert inside == outside.stdout.strip()


def test_the_node_24_standin_has_node_24s_user_home_and_tmp(sample_images: SampleImages) -> None:
    buildah = sample_images.buildah
    script = (
        "const fs = require('node:fs');"
        "const [home, node, tmp] = ['/home', '/home/node', '/tmp'].map((p) => fs.statSync(p));"
        "console.log(JSON.stringify({home: home.uid, node: [node.uid, node.gid],"
        " tmp: (tmp.mode & 0o7777).toString(8)}))"
    )
    seen = json.loads(buildah.exec(buildah.container(NODE_STANDIN_TAG), ["node", "-e", script]))
    assert seen == {"home": 0, "node": [NODE_UID, NODE_UID], "tmp": "1777"}


def test_without_buildah_the_module_skips_unless_buildah_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(containers.shutil, "which", lambda _name: None)
    monkeypatch.delenv(containers.REQUIRE_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="buildah is not installed"):
        containers.require_buildah()
    monkeypatch.setenv(containers.REQUIRE_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="METABOOST_REQUIRE_BUILDAH=1"):
        containers.require_buildah()
