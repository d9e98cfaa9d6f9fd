"""Registry authentication against real docker-registry 2.8.2 processes:
anonymous, htpasswd Basic, and Docker token auth through the test token server."""

from __future__ import annotations

import anyio
import pytest

from metaboost_ci.core.errors import AuthenticationRequired
from metaboost_ci.core.net import RetryPolicy
from metaboost_ci.core.registry import RegistryClient, RegistryCredentials
from tests.support.images import push_image
from tests.support.registry import Registry, TokenServer


def client_for(registry: Registry, **options: object) -> RegistryClient:
    credentials = RegistryCredentials(*registry.credentials) if registry.credentials else None
    return RegistryClient(registry.url, credentials=credentials, **options)  # type: ignore[arg-type]


def unauthorized(registry: Registry) -> int:
    return sum(1 for entry in registry.access_log() if entry.status == 401)


async def test_anonymous_registry_needs_no_auth_round_trips(registry: Registry) -> None:
    pushed = push_image(registry, "owner/repo/api", "1.0.0")
    async with client_for(registry) as client:
        assert client.host == registry.host
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        manifest = await client.get_manifest("owner/repo/api", "1.0.0")
    assert manifest.digest == pushed.digest
    assert client.requests_sent == 2
    assert client.token_exchanges == 0


async def test_basic_credentials_go_up_front_after_the_first_challenge(
    basic_registry: Registry,
) -> None:
    pushed = push_image(basic_registry, "owner/repo/api", "1.0.0")
    before = unauthorized(basic_registry)  # the fixture's own push met the challenge too
    async with client_for(basic_registry) as client:
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        assert (await client.get_manifest("owner/repo/api", "1.0.0")).digest == pushed.digest
        assert await client.head_manifest("owner/repo/api", "1.0.0") is not None
    # One 401 for the whole session; then every request carries Basic credentials.
    assert client.requests_sent == 4
    assert unauthorized(basic_registry) - before == 1
    assert client.token_exchanges == 0


async def test_basic_registry_refuses_anonymous_and_wrong_password(
    basic_registry: Registry,
) -> None:
    push_image(basic_registry, "owner/repo/api", "1.0.0")
    async with RegistryClient(basic_registry.url) as anonymous:
        with pytest.raises(AuthenticationRequired) as caught:
            await anonymous.list_tags("owner/repo/api")
    assert anonymous.requests_sent == 1
    assert caught.value.fix is not None
    assert "GHCR_REGISTRY_TOKEN" in caught.value.fix

    username = basic_registry.username or ""
    wrong = RegistryCredentials(username, "wrong-password-1b9e")
    async with RegistryClient(basic_registry.url, credentials=wrong) as client:
        with pytest.raises(AuthenticationRequired) as caught:
            await client.list_tags("owner/repo/api")
    # Challenge, one try with the credentials, then stop: no loop.
    assert client.requests_sent == 2
    assert "wrong-password-1b9e" not in str(caught.value)


async def test_token_auth_exchanges_once_per_scope_and_caches(
    token_registry: Registry, token_server: TokenServer
) -> None:
    pushed = push_image(token_registry, "owner/repo/api", "1.0.0")
    token_server.clear()
    before = unauthorized(token_registry)
    async with client_for(token_registry) as client:
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        manifest = await client.get_manifest("owner/repo/api", "1.0.0")
        assert await client.head_manifest("owner/repo/api", "1.0.0") is not None
        assert await client.get_blob("owner/repo/api", pushed.layer_digests[0])
        # A write needs push: one more exchange; reads after it reuse that token.
        await client.put_manifest("owner/repo/api", "latest", manifest)
        await client.put_manifest("owner/repo/api", "1.0", manifest)
        assert await client.list_tags("owner/repo/api")
    exchanges = token_server.requests
    assert [r.scopes for r in exchanges] == [
        ("repository:owner/repo/api:pull",),
        ("repository:owner/repo/api:pull,push",),
    ]
    assert all(r.username == token_registry.username for r in exchanges)
    assert client.token_exchanges == 2
    assert unauthorized(token_registry) - before == 1
    # 7 registry requests, 1 challenge, 2 exchanges.
    assert client.requests_sent == 10


async def test_authorize_fetches_one_token_for_a_sequence(
    token_registry: Registry, token_server: TokenServer
) -> None:
    push_image(token_registry, "owner/repo/api", "1.0.0-staging.1")
    push_image(token_registry, "owner/repo/web", "1.0.0-staging.1")
    token_server.clear()
    before = unauthorized(token_registry)
    async with client_for(token_registry) as client:
        await client.authorize(pull=["owner/repo/api"], push=["owner/repo/web"])
        assert await client.list_tags("owner/repo/api") == ["1.0.0-staging.1"]
        web = await client.get_manifest("owner/repo/web", "1.0.0-staging.1")
        assert await client.head_manifest("owner/repo/web", "1.0.0") is None
        await client.put_manifest("owner/repo/web", "1.0.0", web)
        assert sorted(await client.list_tags("owner/repo/web")) == ["1.0.0", "1.0.0-staging.1"]
    assert [r.scopes for r in token_server.requests] == [
        ("repository:owner/repo/api:pull", "repository:owner/repo/web:pull,push")
    ]
    # The probe (GET /v2/) is the only 401.
    assert unauthorized(token_registry) - before == 1


async def test_anonymous_pull_token_for_a_public_repository(
    token_registry: Registry, token_server: TokenServer
) -> None:
    push_image(token_registry, "owner/public", "1.0.0")
    push_image(token_registry, "owner/private", "1.0.0")
    token_server.make_public("owner/public")
    token_server.clear()
    async with RegistryClient(token_registry.url) as client:
        assert await client.list_tags("owner/public") == ["1.0.0"]
        # Private: the anonymous token grants nothing; the fresh token's 401 is final.
        with pytest.raises(AuthenticationRequired):
            await client.list_tags("owner/private")
    assert [r.username for r in token_server.requests] == [None, None]
    # public: 401, exchange, 200; private: exchange up front (challenge known), 401.
    assert client.requests_sent == 5


async def test_one_re_exchange_after_a_rejected_cached_token(
    token_registry: Registry, token_server: TokenServer
) -> None:
    push_image(token_registry, "owner/repo/api", "1.0.0")
    token_server.clear()
    async with client_for(token_registry) as client:
        # Tokens the registry rejects (already expired when issued).
        token_server.policy.expired = True
        with pytest.raises(AuthenticationRequired):
            await client.list_tags("owner/repo/api")  # 401, exchange, 401 with the fresh token
        assert (client.token_exchanges, client.requests_sent) == (1, 3)
        with pytest.raises(AuthenticationRequired):
            await client.list_tags("owner/repo/api")  # cached token 401, re-exchange, 401: stop
        assert (client.token_exchanges, client.requests_sent) == (2, 6)
        # The token server is healthy again: the cached (dead) token gets one
        # 401, the client exchanges once more and succeeds.
        token_server.policy.expired = False
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        assert (client.token_exchanges, client.requests_sent) == (3, 9)


async def test_token_wrong_password_fails_at_the_exchange(
    token_registry: Registry, token_server: TokenServer
) -> None:
    push_image(token_registry, "owner/repo/api", "1.0.0")
    wrong = RegistryCredentials(token_registry.username or "", "wrong-token-7c2d")
    async with RegistryClient(token_registry.url, credentials=wrong) as client:
        with pytest.raises(AuthenticationRequired) as caught:
            await client.list_tags("owner/repo/api")
    text = str(caught.value)
    assert "wrong-token-7c2d" not in text
    assert "/token" in text  # says where it failed
    assert caught.value.fix is not None
    # A local token server, not GHCR: the advice names the variables, not GHCR's token kinds.
    assert "did not accept the credentials: check that REGISTRY_USERNAME" in caught.value.fix
    assert "fine-grained" not in caught.value.fix
    assert client.requests_sent == 2  # the registry's challenge, the refused exchange


async def test_token_without_push_cannot_write(
    token_registry: Registry, token_server: TokenServer
) -> None:
    push_image(token_registry, "owner/repo/api", "1.0.0")
    token_server.limit("owner/repo/*", ["pull"])
    async with client_for(token_registry) as client:
        manifest = await client.get_manifest("owner/repo/api", "1.0.0")
        with pytest.raises(AuthenticationRequired) as caught:
            await client.put_manifest("owner/repo/api", "latest", manifest)
    # docker-registry says 401 insufficient_scope (GHCR says 403; see test_registry_edges).
    assert caught.value.status == 401
    assert caught.value.fix is not None
    assert "does not let that user do this: give it pull (and, to write, push)" in caught.value.fix


async def test_concurrent_requests_share_one_exchange(
    token_registry: Registry, token_server: TokenServer
) -> None:
    for app in ("api", "web", "web-sidecar"):
        push_image(token_registry, f"owner/repo/{app}", "1.0.0", layers=1)
    token_server.clear()
    async with client_for(token_registry) as client:
        await client.authorize(pull=[f"owner/repo/{a}" for a in ("api", "web", "web-sidecar")])
        async with anyio.create_task_group() as group:
            for _ in range(3):
                for app in ("api", "web", "web-sidecar"):
                    group.start_soon(client.list_tags, f"owner/repo/{app}")
        # A repository no cached token covers: four concurrent requests need a
        # new token, and only one of them exchanges; the others wait and reuse it.
        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(client.head_manifest, "owner/repo/new", "1.0.0")
    assert client.token_exchanges == 2
    assert len(token_server.requests) == 2


class Clock:
    """A clock the test moves by hand: token lifetimes without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_token_without_expires_in_lives_the_spec_default_of_60s(
    token_registry: Registry, token_server: TokenServer
) -> None:
    push_image(token_registry, "owner/repo/api", "1.0.0")
    token_server.policy.omit_expires_in = True  # the registry still accepts it for 300 s
    token_server.clear()
    clock = Clock()
    credentials = RegistryCredentials(*token_registry.credentials or ("", ""))
    policy = RetryPolicy(clock=clock)
    async with RegistryClient(token_registry.url, credentials=credentials, policy=policy) as client:
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        clock.now += 30  # well within the 60 s: the cached token serves
        await client.get_manifest("owner/repo/api", "1.0.0")
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        assert client.token_exchanges == 1
        before = unauthorized(token_registry)
        clock.now += 30  # 60 s after the exchange: the token is dead by the spec
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        assert client.token_exchanges == 2
        # Refreshed before sending, not after the registry refused it.
        assert unauthorized(token_registry) == before
    assert len(token_server.requests) == 2


async def test_a_short_lived_token_still_serves_its_burst(
    token_registry: Registry, token_server: TokenServer
) -> None:
    """A token announced for 4 s (below the spec's 60 s minimum): the safety
    margin shrinks with it instead of expiring it on arrival."""
    push_image(token_registry, "owner/repo/api", "1.0.0")
    token_server.policy.lifetime = 4
    token_server.clear()
    clock = Clock()
    credentials = RegistryCredentials(*token_registry.credentials or ("", ""))
    policy = RetryPolicy(clock=clock)
    async with RegistryClient(token_registry.url, credentials=credentials, policy=policy) as client:
        for _ in range(3):
            assert await client.list_tags("owner/repo/api") == ["1.0.0"]
            clock.now += 1
        assert client.token_exchanges == 1
        clock.now += 1  # 4 s after the exchange
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        assert client.token_exchanges == 2
