"""Failures named for what they are: plain HTTP addressed as https://, a host name
that does not resolve, a 401 from a registry that is not GHCR, said once.

Against real servers: Debian's docker-registry (plain HTTP), the machine's own
resolver, and the command line's real output.
"""

from __future__ import annotations

import pytest

from metaboost_ci.core.errors import AuthenticationRequired, TransportError
from metaboost_ci.core.flows.context import per_app
from metaboost_ci.core.net import HttpClient
from metaboost_ci.core.progress import RecordingProgress
from tests.support.fake_time import FakeTime
from tests.support.local_cli import clean_env
from tests.support.registry_process import Registry
from tests.support.release import run_cli

APPS = ("api", "web", "web-sidecar")


async def test_https_to_a_plain_http_registry_says_so_at_once(registry: Registry) -> None:
    time = FakeTime()
    async with HttpClient(service="registry", policy=time.policy()) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("GET", f"https://{registry.host}/v2/")
    assert f"{registry.host} speaks plain HTTP, not HTTPS" in caught.value.message
    assert (
        caught.value.fix
        == f"Address it as http://{registry.host} instead of https://{registry.host}."
    )
    assert "attempts" not in caught.value.message
    assert (http.requests_sent, time.sleeps) == (1, [])


async def test_a_host_name_that_does_not_resolve_is_not_retried() -> None:
    time = FakeTime()
    async with HttpClient(service="registry", policy=time.policy()) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("GET", "https://registry.does-not-exist.invalid/v2/")
    assert "the host name registry.does-not-exist.invalid does not resolve" in caught.value.message
    assert caught.value.fix is not None
    assert "Check the host name" in caught.value.fix
    assert (http.requests_sent, time.sleeps) == (1, [])


def test_a_401_from_a_local_registry_is_reported_once_with_its_own_advice(
    basic_registry: Registry,
) -> None:
    env = clean_env(
        {"REGISTRY_USERNAME": "someone", "GHCR_REGISTRY_TOKEN": "not-the-password-5d1e"}
    )
    argv = ["--registry", basic_registry.url, "--repository", "acme/metaboost"]
    argv += ["--apps", ",".join(APPS), "verify", "--version", "1.0.0"]
    result = run_cli(argv, env=env)
    assert result.code == 1
    assert result.err.count("did not accept the credentials") == 1
    assert result.err.count("REGISTRY_USERNAME (else GITHUB_ACTOR)") == 1
    assert "web, web-sidecar: the same failure as api (below)" in result.err
    for ghcr_only in ("read:packages", "fine-grained", "Manage Actions access"):
        assert ghcr_only not in result.err
    assert "not-the-password-5d1e" not in result.all_output


async def test_other_failures_of_other_apps_are_each_still_said() -> None:
    progress = RecordingProgress()

    async def work(app: str) -> None:
        if app == "api":
            raise TransportError("No answer.", fix="Try again.")
        raise AuthenticationRequired(
            "Answered 401.", status=401, method="GET", url="http://r/v2/", fix="Set the token."
        )

    with pytest.raises(TransportError):
        await per_app(APPS, work, progress=progress)
    assert progress.lines == [
        "web: Answered 401. Fix: Set the token.",
        "web-sidecar: Answered 401. Fix: Set the token.",
    ]
