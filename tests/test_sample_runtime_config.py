"""The sample apps' runtime-config contract, with this machine's Node, outside containers.

The sample is copied to a temporary directory, installed with `npm ci
--offline` (workspaces only, so no network) and its packages built; then the
apps run as plain node processes on free ports:

- sidecar answers: the web app serves the sidecar's configuration;
- sidecar never reachable: it falls back to its own environment;
- sidecar gone after answering: it keeps the last configuration it got;
- no RUNTIME_CONFIG_URL: it refuses to start, naming the variable.

The smoke test's probe script (engine/smoke.py) is run here against a real
app too, since the engine can only run it inside a container.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS, SIDECARS
from metaboost_ci.engine.smoke import PROBE_JS
from tests.support.ports import free_port, wait_until

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
WEB_APPS = sorted(SIDECARS.items())
ALL_APPS = list(DEFAULT_APPS)


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not on PATH; the sample apps cannot run here")
    root = tmp_path_factory.mktemp("sample") / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("node_modules", "dist"))
    for command in (
        ["npm", "ci", "--offline", "--no-audit", "--no-fund"],
        ["npm", "run", "build:packages"],
    ):
        subprocess.run(command, cwd=root, check=True, capture_output=True, timeout=120)
    return root


@dataclass
class App:
    name: str
    port: int
    process: subprocess.Popen[str]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as answer:
            return json.loads(answer.read())

    def serving(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.process.communicate()}")
        try:
            return self.get("/healthz")["status"] == "ok"
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


@pytest.fixture
def start(monorepo: Path) -> Iterator[Any]:
    started: list[App] = []

    def run(name: str, **env: str) -> App:
        port = free_port()
        process = subprocess.Popen(
            ["node", f"apps/{name}/src/server.js"],
            cwd=monorepo,
            env={"PATH": os.environ.get("PATH", ""), "PORT": str(port), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        app = App(name, port, process)
        started.append(app)
        wait_until(app.serving, timeout=15.0, what=f"{name} to answer /healthz")
        return app

    yield run
    for app in started:
        if app.process.poll() is None:
            app.stop()


@pytest.mark.parametrize("app", ALL_APPS)
def test_every_app_serves_its_health_on_port(start: Any, app: str) -> None:
    env = (
        {"RUNTIME_CONFIG_URL": "http://127.0.0.1:9/runtime-config"} if app in dict(WEB_APPS) else {}
    )
    health = start(app, **env).get("/healthz")
    assert (health["app"], health["version"]) == (app, "0.1.0")


@pytest.mark.parametrize(("web", "sidecar"), WEB_APPS)
def test_the_app_serves_its_sidecars_configuration(start: Any, web: str, sidecar: str) -> None:
    side = start(sidecar, NEXT_PUBLIC_API_URL="http://api.from-sidecar", OTHER="not public")
    assert side.get("/runtime-config") == {"NEXT_PUBLIC_API_URL": "http://api.from-sidecar"}
    app = start(
        web,
        RUNTIME_CONFIG_URL=f"http://127.0.0.1:{side.port}/runtime-config",
        NEXT_PUBLIC_API_URL="http://api.from-env",
    )
    used = app.get("/runtime-config")
    assert used["source"] == "sidecar"
    assert used["config"] == {"NEXT_PUBLIC_API_URL": "http://api.from-sidecar"}


@pytest.mark.parametrize(("web", "sidecar"), WEB_APPS)
def test_without_the_sidecar_the_app_falls_back_to_its_environment(
    start: Any, web: str, sidecar: str
) -> None:
    nothing = free_port()
    app = start(
        web,
        RUNTIME_CONFIG_URL=f"http://127.0.0.1:{nothing}/runtime-config",
        NEXT_PUBLIC_API_URL="http://api.from-env",
    )
    used = app.get("/runtime-config")
    assert used["source"] == "env"
    assert used["config"] == {"NEXT_PUBLIC_API_URL": "http://api.from-env"}
    assert used["lastError"]


def test_after_the_sidecar_goes_away_the_app_keeps_its_last_configuration(start: Any) -> None:
    side = start("web-sidecar", NEXT_PUBLIC_API_URL="http://api.from-sidecar")
    app = start(
        "web",
        RUNTIME_CONFIG_URL=f"http://127.0.0.1:{side.port}/runtime-config",
        NEXT_PUBLIC_API_URL="http://api.from-env",
    )
    assert app.get("/runtime-config")["source"] == "sidecar"
    side.stop()
    used = app.get("/runtime-config")
    assert used["source"] == "cache"
    assert used["config"] == {"NEXT_PUBLIC_API_URL": "http://api.from-sidecar"}


def test_without_runtime_config_url_the_web_app_refuses_to_start(monorepo: Path) -> None:
    done = subprocess.run(
        ["node", "apps/web/src/server.js"],
        cwd=monorepo,
        env={"PATH": os.environ.get("PATH", ""), "PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "RUNTIME_CONFIG_URL is not set" in done.stderr


def test_the_smoke_probe_reports_two_answers_from_a_running_app(start: Any) -> None:
    api = start("api")
    probe = subprocess.run(
        ["node", "-e", PROBE_JS, f"http://127.0.0.1:{api.port}/", "50"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    answer = json.loads(probe.stdout)
    assert answer["first"]["status"] == answer["second"]["status"] == 200
    assert json.loads(answer["first"]["body"])["app"] == "api"


def test_the_smoke_probe_fails_when_nothing_answers() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH")
    probe = subprocess.run(
        ["node", "-e", PROBE_JS, f"http://127.0.0.1:{free_port()}/", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode == 1
    assert "probe of" in probe.stderr
