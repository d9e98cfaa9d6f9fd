"""smoke: services on $PORT, probes bound to them, the runtime-config contract checked.

``PlayedApps`` answers the probes: it reads each probed service's chain (its
environment, its service bindings) and answers as an app following the
contract would, or, in the negative tests, as a broken one.
"""

from __future__ import annotations

import pytest
from dagger import dag

from metaboost_ci.core.apps import DEFAULT_APPS, SIDECARS
from metaboost_ci.core.errors import CheckFailed
from metaboost_ci.engine.build import AppImage
from metaboost_ci.engine.smoke import MARKER, SmokeOptions, smoke_test
from tests.support.dagger_offline import (
    Call,
    PlayedApps,
    QueryFailure,
    StandInSession,
    app_of,
    args_of,
    env_of,
    execs,
)

OPTIONS = SmokeOptions(stay_seconds=3, run_id="run1")


def images() -> list[AppImage]:
    return [
        AppImage(app, ("linux/amd64",), (dag.container().from_(f"example/{app}"),))
        for app in DEFAULT_APPS
    ]


async def test_every_app_is_started_and_probed_twice(dagger_standin: StandInSession) -> None:
    apps = PlayedApps(dagger_standin)
    lines = await smoke_test(images(), OPTIONS)
    up = [(alias, url, service) for alias, url, service in apps.probed if url.endswith(":8080/")]
    assert sorted(alias for alias, _, _ in up) == sorted(DEFAULT_APPS)
    for alias, _url, service in up:
        assert app_of(service) == alias
        assert env_of(service)["PORT"] == "8080"
        # This run's own service, never a cached probe answer.
        assert env_of(service)["METABOOST_CI_SMOKE_RUN"] == "run1"
        assert args_of(service, "withExposedPort") == [{"port": 8080}]
        assert args_of(service, "asService") == [{"useEntrypoint": True}]
    # The probe waits the stay time between its two requests.
    probes = [c for c in dagger_standin.leaves("Container.stdout") if execs(c)[-1][3].endswith("/")]
    assert {execs(c)[-1][4] for c in probes} == {"3000"}
    assert {args_of(c, "from")[0]["address"] for c in probes} == {"node:24"}
    # Each app stays up; each web app with its sidecar, and without it.
    assert len(lines) == len(DEFAULT_APPS) + 2 * len(SIDECARS)


async def test_web_apps_are_started_as_the_contract_requires(
    dagger_standin: StandInSession,
) -> None:
    """A web app exits at start without RUNTIME_CONFIG_URL: the stays-up check must give one."""
    apps = PlayedApps(dagger_standin)
    await smoke_test(images(), OPTIONS)
    up = {alias: service for alias, url, service in apps.probed if url.endswith(":8080/")}
    for web in ("web", "management-web"):
        assert env_of(up[web])["RUNTIME_CONFIG_URL"] == "http://127.0.0.1:9/runtime-config"
    assert "RUNTIME_CONFIG_URL" not in env_of(up["api"])


async def test_web_apps_serve_their_sidecars_config_and_fall_back_without_it(
    dagger_standin: StandInSession,
) -> None:
    apps = PlayedApps(dagger_standin)
    lines = await smoke_test(images(), OPTIONS)
    config_probes = [(a, s) for a, url, s in apps.probed if url.endswith("/runtime-config")]
    assert sorted(a for a, _ in config_probes) == sorted(
        ["web", "web", "management-web", "management-web"]
    )
    with_sidecar = [s for _, s in config_probes if args_of(s, "withServiceBinding")]
    for service in with_sidecar:
        [binding] = args_of(service, "withServiceBinding")
        sidecar = dagger_standin.origin(binding["service"])
        assert binding["alias"] == f"{app_of(service)}-sidecar" == app_of(sidecar)
        assert (
            env_of(service)["RUNTIME_CONFIG_URL"]
            == f"http://{binding['alias']}:8080/runtime-config"
        )
        assert env_of(sidecar)[MARKER] == "sidecar-run1"
        assert env_of(service)[MARKER] == "env-run1"
    fallback = [s for _, s in config_probes if not args_of(s, "withServiceBinding")]
    assert {env_of(s)["RUNTIME_CONFIG_URL"] for s in fallback} == {
        "http://127.0.0.1:9/runtime-config"
    }
    assert "ok  web: serves the configuration of web-sidecar" in lines
    assert (
        "ok  management-web: falls back to its environment when the sidecar is unreachable" in lines
    )


async def test_an_app_ignoring_its_sidecar_fails_the_smoke_test(
    dagger_standin: StandInSession,
) -> None:
    PlayedApps(dagger_standin, broken=frozenset({"management-web"}))
    with pytest.raises(CheckFailed) as failed:
        await smoke_test(images(), OPTIONS)
    [problem] = failed.value.problems
    assert problem.startswith(
        "management-web with its sidecar: management-web with management-web-sidecar:"
    )
    assert "does not serve its sidecar's configuration" in problem


async def test_an_app_that_does_not_start_is_named(dagger_standin: StandInSession) -> None:
    apps = PlayedApps(dagger_standin)

    def stdout(calls: list[Call]) -> str:
        [binding] = args_of(calls, "withServiceBinding")
        if binding["alias"] == "api":
            raise QueryFailure("service exited: exit code 1")
        return apps.stdout(calls)

    dagger_standin.respond("Container.stdout", stdout)
    with pytest.raises(CheckFailed) as failed:
        await smoke_test(images(), OPTIONS)
    assert len(failed.value.problems) == 1
    assert failed.value.problems[0].startswith("api stays up: api: the service did not start")


async def test_without_both_halves_only_the_apps_themselves_are_checked(
    dagger_standin: StandInSession,
) -> None:
    PlayedApps(dagger_standin)
    only_web = [i for i in images() if i.app in ("api", "web")]
    lines = await smoke_test(only_web, OPTIONS)
    assert [line.split(":")[0] for line in lines] == ["ok  api", "ok  web"]
