"""No credential ever reaches output, logs or exception text.

Each failing call runs with every logger at DEBUG and stdout/stderr captured;
the text of the exception (message, fix, repr, formatted traceback) and all
that output is searched for the password, its Basic encodings and every token
the token server issued.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from metaboost_ci.core.errors import (
    AuthenticationRequired,
    MetaboostCiError,
    PermissionDenied,
    UnexpectedStatus,
)
from metaboost_ci.core.net import RetryPolicy
from metaboost_ci.core.registry import RegistryClient, RegistryCredentials
from tests.support.images import push_image
from tests.support.proxies import Proxy
from tests.support.registry import Registry, TokenServer
from tests.support.registry_front import Front


async def _no_sleep(seconds: float) -> None:
    pass


class Leaks:
    """Collects every secret in play and every text a failure produced."""

    def __init__(self, username: str, password: str) -> None:
        pair = f"{username}:{password}".encode()
        self.secrets = {
            password,
            base64.b64encode(pair).decode(),
            base64.b64encode(password.encode()).decode(),
        }
        self.texts: list[str] = []

    def add_tokens(self, server: TokenServer) -> None:
        issue = server.issue

        def recording(username: str | None, granted: Any) -> dict[str, Any]:
            answer = issue(username, granted)
            self.secrets.add(answer["token"])
            return answer

        server.issue = recording  # type: ignore[method-assign]

    async def expect_failure(
        self, error: type[MetaboostCiError], call: Callable[[], Awaitable[object]]
    ) -> MetaboostCiError:
        with pytest.raises(error) as caught:
            await call()
        exc = caught.value
        self.texts += [
            str(exc),
            repr(exc),
            repr(exc.args),
            exc.fix or "",
            getattr(exc, "url", ""),
            "".join(traceback.format_exception(exc)),
        ]
        return exc

    def check(self, *outputs: str) -> None:
        everything = "\n".join([*self.texts, *outputs])
        assert everything  # there was something to search
        for secret in self.secrets:
            assert secret not in everything


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


async def test_no_secret_in_any_failure(
    basic_registry: Registry,
    token_registry: Registry,
    token_server: TokenServer,
    fault_proxy: Callable[..., Proxy],
    debug_logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert token_registry.credentials is not None
    username, password = token_registry.credentials
    leaks = Leaks(username, password)
    leaks.add_tokens(token_server)
    push_image(basic_registry, "owner/repo/api", "1.0.0")
    push_image(token_registry, "owner/repo/api", "1.0.0")
    good = RegistryCredentials(username, password)
    # The wrong password is a secret too (registered when the credentials are made).
    wrong = RegistryCredentials(username, password + "-wrong")
    leaks.secrets |= Leaks(username, password + "-wrong").secrets

    # Wrong password: Basic and token registries.
    async with RegistryClient(basic_registry.url, credentials=wrong) as client:
        await leaks.expect_failure(
            AuthenticationRequired, lambda: client.list_tags("owner/repo/api")
        )
    async with RegistryClient(token_registry.url, credentials=wrong) as client:
        await leaks.expect_failure(
            AuthenticationRequired, lambda: client.list_tags("owner/repo/api")
        )

    # 403 from a server that quotes our Authorization header back at us.
    with Front(token_registry.url, deny_puts=True, echo_credentials=True) as front:
        async with RegistryClient(front.url, credentials=good) as client:
            manifest = await client.get_manifest("owner/repo/api", "1.0.0")
            denied = await leaks.expect_failure(
                PermissionDenied, lambda: client.put_manifest("owner/repo/api", "x", manifest)
            )
    assert "for Bearer ***" in str(denied)  # the echo reached the message, masked

    # Retries exhausted while sending a bearer token on every attempt.
    proxy = fault_proxy(token_registry, rate=1.0, faults=("503",))
    policy = RetryPolicy(sleep=_no_sleep, attempts=3)
    async with RegistryClient(proxy.url, credentials=good, policy=policy) as client:
        with contextlib.suppress(UnexpectedStatus):
            await client.authorize(push=["owner/repo/api"])  # the probe fails too
        await leaks.expect_failure(UnexpectedStatus, lambda: client.list_tags("owner/repo/api"))

    # A token without push.
    token_server.limit("owner/repo/*", ["pull"])
    async with RegistryClient(token_registry.url, credentials=good) as client:
        manifest = await client.get_manifest("owner/repo/api", "1.0.0")
        await leaks.expect_failure(
            AuthenticationRequired, lambda: client.put_manifest("owner/repo/api", "y", manifest)
        )

    assert len(leaks.secrets) > 3  # tokens were issued and are being searched for
    out, err = capfd.readouterr()
    leaks.check(out, err, debug_logs.text)
