"""Registry fixtures: real docker-registry processes, a token server, proxies.

Fixtures (all function-scoped unless noted; every process and thread they start
is stopped at teardown, also when the test fails):

- ``registry``: anonymous registry -> ``Registry``
- ``basic_registry``: htpasswd Basic auth -> ``Registry`` with username/password
- ``token_registry``: token auth like ghcr.io -> ``Registry`` with username/password
  and ``token_server`` (a ``TokenServer``)
- ``token_server``: a fresh ``TokenServer`` (knows ``registry_credentials``)
- ``registry_factory(auth="none"|"basic"|"token", **options) -> Registry``
- ``registry_credentials`` (session): ``(username, password)``
- ``token_signing_key`` (session): the ES256 key and certificate
- ``proxy_factory``, ``paging_proxy``, ``fault_proxy``: see ``tests/support/proxies.py``
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .proxies import Proxy, ProxyFactory, Upstream
from .registry_process import (
    Auth,
    Registry,
    bcrypt_htpasswd_line,
    require_tool,
    run_registry,
)
from .registry_token import SigningKey, TokenServer

__all__ = ["Registry", "RegistryFactory", "TokenServer"]

RegistryFactory = Callable[..., Registry]


@pytest.fixture(scope="session")
def registry_credentials() -> tuple[str, str]:
    """The username and password every auth registry and token server accepts."""
    return "metaboost-ci", f"test-{secrets.token_hex(12)}"


@pytest.fixture(scope="session")
def registry_htpasswd_line(registry_credentials: tuple[str, str]) -> str:
    require_tool("docker-registry", "apt-get install docker-registry")
    return bcrypt_htpasswd_line(*registry_credentials)


@pytest.fixture(scope="session")
def token_signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def token_server(
    token_signing_key: SigningKey, registry_credentials: tuple[str, str]
) -> Iterator[TokenServer]:
    with TokenServer(token_signing_key) as server:
        server.add_user(*registry_credentials)
        yield server


@pytest.fixture
def registry_factory(
    request: pytest.FixtureRequest,
    registry_credentials: tuple[str, str],
    token_signing_key: SigningKey,
) -> Iterator[RegistryFactory]:
    """``registry_factory(auth="none", *, token_server=None, realm=None,
    username=None, password=None) -> Registry``: start as many as a test needs.

    Auth registries default to ``registry_credentials``; a token registry without
    ``token_server`` gets its own fresh one.
    """
    with contextlib.ExitStack() as stack:

        def start(
            auth: Auth = "none",
            *,
            token_server: TokenServer | None = None,
            realm: str | None = None,
            username: str | None = None,
            password: str | None = None,
        ) -> Registry:
            options: dict[str, Any] = {}
            if auth != "none":
                default_user, default_password = registry_credentials
                user = username or default_user
                secret = password or default_password
                options.update(username=user, password=secret)
                if auth == "basic" and (user, secret) == registry_credentials:
                    options["htpasswd_line"] = request.getfixturevalue("registry_htpasswd_line")
            if auth == "token" and token_server is None:
                token_server = stack.enter_context(TokenServer(token_signing_key))
            return stack.enter_context(
                run_registry(auth, token_server=token_server, realm=realm, **options)
            )

        yield start


@pytest.fixture
def registry(registry_factory: RegistryFactory) -> Registry:
    return registry_factory("none")


@pytest.fixture
def basic_registry(registry_factory: RegistryFactory) -> Registry:
    return registry_factory("basic")


@pytest.fixture
def token_registry(registry_factory: RegistryFactory, token_server: TokenServer) -> Registry:
    return registry_factory("token", token_server=token_server)


@pytest.fixture
def proxy_factory() -> Iterator[ProxyFactory]:
    """``proxy_factory(upstream, **switches) -> Proxy`` (switches: see ``Proxy``)."""
    with contextlib.ExitStack() as stack:

        def start(upstream: Upstream, **switches: Any) -> Proxy:
            return stack.enter_context(Proxy(upstream, **switches))

        yield start


@pytest.fixture
def paging_proxy(proxy_factory: ProxyFactory) -> Callable[..., Proxy]:
    """``paging_proxy(upstream, page_tags=100, **switches) -> Proxy``: tag lists paged like GHCR."""

    def start(upstream: Upstream, page_tags: int = 100, **switches: Any) -> Proxy:
        return proxy_factory(upstream, page_tags=page_tags, **switches)

    return start


@pytest.fixture
def fault_proxy(proxy_factory: ProxyFactory) -> Callable[..., Proxy]:
    """``fault_proxy(upstream, rate=0.2, seed=0, faults=ALL_FAULTS, **switches) -> Proxy``."""

    def start(upstream: Upstream, rate: float = 0.2, seed: int = 0, **switches: Any) -> Proxy:
        return proxy_factory(upstream, fault_rate=rate, seed=seed, **switches)

    return start
