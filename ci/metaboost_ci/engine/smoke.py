"""smoke: before anything is pushed, every built image starts and stays up.

Each image runs as a Dagger service on ``$PORT`` (8080 here; the apps listen
on ``$PORT``) and a probe container bound to it asks for ``/`` twice, a few
seconds apart: any HTTP answer both times means the process started and did
not die (the web apps, which exit without ``RUNTIME_CONFIG_URL``, get one
that points at nothing). The web apps are also checked against the seed's runtime-config
contract:

- started with ``RUNTIME_CONFIG_URL`` pointing at their sidecar, itself
  running as a service, ``GET /runtime-config`` reports ``source: sidecar``
  and the sidecar's marker value;
- started with ``RUNTIME_CONFIG_URL`` pointing at nothing, it reports
  ``source: env`` and the app's own marker value (the fallback).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import dagger
from dagger import dag

from ..core.apps import SIDECARS
from ..core.errors import CheckFailed
from .build import AppImage
from .concurrent import run_all
from .node import NODE_IMAGE, new_run_id

SMOKE_PORT = 8080
RUNTIME_CONFIG_PATH = "/runtime-config"
MARKER = "NEXT_PUBLIC_SMOKE_MARKER"
# In every smoke service's environment: this run's id (see SmokeOptions).
RUN_ID_VARIABLE = "METABOOST_CI_SMOKE_RUN"
# Port 9 (discard) has no listener in a service container: "unreachable".
UNREACHABLE_CONFIG_URL = f"http://127.0.0.1:9{RUNTIME_CONFIG_PATH}"

# Two GETs `stay` ms apart; prints both answers as JSON. Any HTTP status
# counts as "up": the check is that the process serves, not what it serves.
PROBE_JS = """
const [url, stay] = process.argv.slice(1);
const get = async () => {
  const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
  return { status: res.status, body: await res.text() };
};
(async () => {
  const first = await get();
  await new Promise((resolve) => setTimeout(resolve, Number(stay)));
  const second = await get();
  console.log(JSON.stringify({ first, second }));
})().catch((err) => {
  console.error(`probe of ${url} failed: ${err.cause ? err.cause.message : err.message}`);
  process.exit(1);
});
"""


@dataclass(frozen=True)
class SmokeOptions:
    stay_seconds: float = 2.0
    # A fresh value per run: services are content-addressed, and a new marker
    # guarantees this run's containers, not a cached answer.
    run_id: str = ""

    def marker(self, who: str) -> str:
        return f"{who}-{self.run_id or 'smoke'}"


def app_service(image: dagger.Container, env: dict[str, str] | None = None) -> dagger.Container:
    """The image prepared to run as a service on SMOKE_PORT (not yet a Service)."""
    container = image.with_env_variable("PORT", str(SMOKE_PORT))
    for name, value in sorted((env or {}).items()):
        container = container.with_env_variable(name, value)
    return container.with_exposed_port(SMOKE_PORT)


def probe(alias: str, service: dagger.Service, path: str, stay_ms: int) -> dagger.Container:
    """A node:24 container that GETs http://alias:PORT/path twice, ``stay_ms`` apart."""
    url = f"http://{alias}:{SMOKE_PORT}{path}"
    return (
        dag.container()
        .from_(NODE_IMAGE)
        .with_service_binding(alias, service)
        .with_exec(["node", "-e", PROBE_JS, url, str(stay_ms)])
    )


async def run_probe(what: str, container: dagger.Container) -> dict[str, Any]:
    try:
        out = await container.stdout()
    except dagger.ExecError as error:
        detail = (error.stderr or error.stdout).strip().splitlines()[-5:]
        raise CheckFailed(f"{what}: the probe failed.", detail) from None
    except dagger.QueryError as error:
        # A service that exits before answering fails its health check here.
        raise CheckFailed(
            f"{what}: the service did not start or did not stay up.", [str(error)]
        ) from None
    return cast(dict[str, Any], json.loads(out))


def read_runtime_config(what: str, answer: dict[str, Any]) -> dict[str, Any]:
    first = cast(dict[str, Any], answer["first"])
    if first["status"] != 200:
        raise CheckFailed(f"{what}: GET {RUNTIME_CONFIG_PATH} answered HTTP {first['status']}.")
    try:
        return cast(dict[str, Any], json.loads(first["body"]))
    except json.JSONDecodeError:
        raise CheckFailed(f"{what}: GET {RUNTIME_CONFIG_PATH} did not answer JSON.") from None


async def expect_config_from(
    app: str, service: dagger.Service, what: str, *, source: str, marker: str, failure: str
) -> None:
    """The app's runtime configuration came from ``source`` and carries ``marker``."""
    used = read_runtime_config(
        what, await run_probe(what, probe(app, service, RUNTIME_CONFIG_PATH, 0))
    )
    config = cast(dict[str, Any], used.get("config") or {})
    if used.get("source") != source or config.get(MARKER) != marker:
        raise CheckFailed(
            f"{what}: {failure}.",
            [f"GET {RUNTIME_CONFIG_PATH} answered {json.dumps(used, sort_keys=True)}"],
        )


def stay_up_env(app: str, options: SmokeOptions) -> dict[str, str]:
    """What ``app`` needs to start at all, plus this run's id.

    A web app exits at start without ``RUNTIME_CONFIG_URL`` (the contract's
    one required variable), so it gets one; pointing at nothing, it must
    still start and serve (the fallback). The run id makes the service, and
    so the probe, this run's own rather than a cached answer.
    """
    env = {RUN_ID_VARIABLE: options.run_id or "smoke"}
    if app in SIDECARS:
        env["RUNTIME_CONFIG_URL"] = UNREACHABLE_CONFIG_URL
    return env


async def check_stays_up(image: AppImage, options: SmokeOptions) -> str:
    service = app_service(image.primary, stay_up_env(image.app, options)).as_service(
        use_entrypoint=True
    )
    stay_ms = int(options.stay_seconds * 1000)
    answer = await run_probe(image.app, probe(image.app, service, "/", stay_ms))
    first = cast(dict[str, Any], answer["first"])["status"]
    second = cast(dict[str, Any], answer["second"])["status"]
    return f"ok  {image.app}: up (HTTP {first}, then HTTP {second} {options.stay_seconds:g}s later)"


async def check_with_sidecar(web: AppImage, sidecar: AppImage, options: SmokeOptions) -> str:
    sidecar_service = app_service(sidecar.primary, {MARKER: options.marker("sidecar")}).as_service(
        use_entrypoint=True
    )
    web_service = (
        app_service(
            web.primary,
            {
                "RUNTIME_CONFIG_URL": f"http://{sidecar.app}:{SMOKE_PORT}{RUNTIME_CONFIG_PATH}",
                MARKER: options.marker("env"),
            },
        )
        .with_service_binding(sidecar.app, sidecar_service)
        .as_service(use_entrypoint=True)
    )
    what = f"{web.app} with {sidecar.app}"
    await expect_config_from(
        web.app,
        web_service,
        what,
        source="sidecar",
        marker=options.marker("sidecar"),
        failure="the app does not serve its sidecar's configuration",
    )
    return f"ok  {web.app}: serves the configuration of {sidecar.app}"


async def check_fallback(web: AppImage, options: SmokeOptions) -> str:
    web_service = app_service(
        web.primary, {"RUNTIME_CONFIG_URL": UNREACHABLE_CONFIG_URL, MARKER: options.marker("env")}
    ).as_service(use_entrypoint=True)
    what = f"{web.app} without its sidecar"
    await expect_config_from(
        web.app,
        web_service,
        what,
        source="env",
        marker=options.marker("env"),
        failure="the app does not fall back to its environment",
    )
    return f"ok  {web.app}: falls back to its environment when the sidecar is unreachable"


async def smoke_test(images: list[AppImage], options: SmokeOptions | None = None) -> list[str]:
    """Every check, concurrently; one line per passed check, or one error listing every failure."""
    options = options or SmokeOptions(run_id=new_run_id())
    by_app = {image.app: image for image in images}
    steps = [(f"{image.app} stays up", partial(check_stays_up, image, options)) for image in images]
    for web_app, sidecar_app in SIDECARS.items():
        if web_app in by_app and sidecar_app in by_app:
            web, sidecar = by_app[web_app], by_app[sidecar_app]
            steps.append(
                (f"{web_app} with its sidecar", partial(check_with_sidecar, web, sidecar, options))
            )
            steps.append((f"{web_app} fallback", partial(check_fallback, web, options)))
    return await run_all("The smoke test", steps)
