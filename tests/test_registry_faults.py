"""Retries through the fault proxy in front of a real docker-registry 2.8.2.

The retry policy sleeps through a recording fake that also moves a fake clock,
so no test waits: the waits are asserted, not spent.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metaboost_ci.core.errors import RateLimited, TransportError, UnexpectedStatus
from metaboost_ci.core.registry import (
    ManifestUnknown,
    NameUnknown,
    RegistryClient,
    RegistryCredentials,
)
from tests.support.fake_time import FakeTime
from tests.support.images import RegistrySession, push_image, push_index
from tests.support.proxies import Proxy
from tests.support.registry import Registry

FaultProxy = Callable[..., Proxy]


async def test_429_retry_after_seconds_and_http_date(
    registry: Registry, fault_proxy: FaultProxy
) -> None:
    push_image(registry, "owner/repo/api", "1.0.0")
    proxy = fault_proxy(registry, rate=0.0, retry_after=3)
    proxy.inject("429", method="GET", path="/tags/list")
    proxy.inject("429-date", method="GET", path="/manifests/")
    fake = FakeTime()
    async with RegistryClient(proxy.url, policy=fake.policy()) as client:
        assert await client.list_tags("owner/repo/api") == ["1.0.0"]
        await client.get_manifest("owner/repo/api", "1.0.0")
    assert proxy.count(faults=True) == 2
    assert client.requests_sent == 4
    seconds, date = fake.sleeps
    assert seconds == 3.0
    assert 1.0 <= date <= 3.0  # an HTTP date has whole seconds; a little time passed


async def retag(client: RegistryClient, name: str, source: str, *tags: str) -> str:
    """What a promotion does per app: read the manifest once, HEAD and PUT each tag."""
    manifest = await client.get_manifest(name, source)
    for tag in tags:
        current = await client.head_manifest(name, tag)
        if current is None or current.digest != manifest.digest:
            await client.put_manifest(name, tag, manifest)
    return manifest.digest


@pytest.mark.parametrize("fault", ["500", "502", "503", "504", "drop"])
async def test_server_errors_and_dropped_connections_are_retried(
    registry: Registry, fault_proxy: FaultProxy, fault: str
) -> None:
    pushed = push_index(registry, "owner/repo/api", "1.0.0-staging.1")
    proxy = fault_proxy(registry, rate=0.0)
    # One of each request kind of a re-tag fails once.
    proxy.inject(fault, method="GET", path="/manifests/")
    proxy.inject(fault, method="HEAD", path="/manifests/")
    proxy.inject(fault, method="PUT", path="/manifests/")
    fake = FakeTime()
    async with RegistryClient(proxy.url, policy=fake.policy()) as client:
        digest = await retag(client, "owner/repo/api", "1.0.0-staging.1", "1.0.0")
    assert digest == pushed.digest
    assert proxy.count(faults=True) == 3
    assert len(fake.sleeps) == 3
    with RegistrySession(registry) as session:
        assert session.get_manifest("owner/repo/api", "1.0.0").content == pushed.manifest_bytes


async def test_lost_answers_after_the_registry_acted(
    registry: Registry, fault_proxy: FaultProxy
) -> None:
    """The registry did the work, the answer never came: the retry must cope."""
    pushed = push_image(registry, "owner/repo/api", "1.0.0", layers=1)
    proxy = fault_proxy(registry, rate=0.0)
    proxy.inject("drop", method="PUT", path="/manifests/", processed=True)
    proxy.inject("502", method="PUT", path="/manifests/", processed=True)
    fake = FakeTime()
    async with RegistryClient(proxy.url, policy=fake.policy()) as client:
        digest = await retag(client, "owner/repo/api", "1.0.0", "latest", "1.0")
    assert digest == pushed.digest
    assert proxy.count(faults=True) == 2
    with RegistrySession(registry) as session:
        for tag in ("latest", "1.0"):
            assert session.get_manifest("owner/repo/api", tag).content == pushed.manifest_bytes


async def test_random_faults_during_a_whole_release_sized_session(
    token_registry: Registry, fault_proxy: FaultProxy
) -> None:
    pushed = push_index(token_registry, "owner/repo/web", "1.0.0-staging.3", attestation=True)
    proxy = fault_proxy(token_registry, rate=0.3, seed=7, processed_rate=0.5, retry_after=1)
    assert token_registry.credentials is not None
    credentials = RegistryCredentials(*token_registry.credentials)
    fake = FakeTime()
    async with RegistryClient(
        proxy.url, credentials=credentials, policy=fake.policy(attempts=12)
    ) as client:
        assert await client.list_tags("owner/repo/web") == ["1.0.0-staging.3"]
        digest = await retag(client, "owner/repo/web", "1.0.0-staging.3", "1.0.0", "latest")
        again = await retag(client, "owner/repo/web", "1.0.0", "latest")
        labels = await client.image_labels("owner/repo/web", "latest")
    assert proxy.count(faults=True) >= 5  # the seed gives a real storm, not a breeze
    assert digest == again == pushed.digest
    assert labels == [{}, {}]
    with RegistrySession(token_registry) as session:
        for tag in ("1.0.0", "latest"):
            assert session.get_manifest("owner/repo/web", tag).content == pushed.manifest_bytes


async def test_not_found_is_never_retried(registry: Registry, fault_proxy: FaultProxy) -> None:
    push_image(registry, "owner/repo/api", "1.0.0")
    proxy = fault_proxy(registry, rate=0.0)
    fake = FakeTime()
    async with RegistryClient(proxy.url, policy=fake.policy()) as client:
        with pytest.raises(ManifestUnknown):
            await client.get_manifest("owner/repo/api", "9.9.9")
        with pytest.raises(NameUnknown):
            await client.list_tags("owner/repo/none")
        assert await client.head_manifest("owner/repo/api", "9.9.9") is None
    assert client.requests_sent == 3
    assert fake.sleeps == []


async def test_the_total_time_bound_ends_a_retry_storm(
    registry: Registry, fault_proxy: FaultProxy
) -> None:
    push_image(registry, "owner/repo/api", "1.0.0")
    proxy = fault_proxy(registry, rate=1.0, faults=("503",))
    fake = FakeTime()
    policy = fake.policy(attempts=1000, total_seconds=20.0, max_delay=4.0)
    async with RegistryClient(proxy.url, policy=policy) as client:
        with pytest.raises(UnexpectedStatus) as caught:
            await client.list_tags("owner/repo/api")
    assert caught.value.status == 503
    assert "attempts" in str(caught.value)
    assert sum(fake.sleeps) <= 20.0
    assert len(fake.sleeps) >= 5  # it did keep trying until the bound
    assert proxy.count() == client.requests_sent == len(fake.sleeps) + 1

    # A server asking for a longer wait than we accept: fail at once, say when.
    slow = fault_proxy(registry, rate=1.0, faults=("429",), retry_after=600)
    fake = FakeTime()
    async with RegistryClient(slow.url, policy=fake.policy()) as client:
        with pytest.raises(RateLimited) as limited:
            await client.list_tags("owner/repo/api")
    assert fake.sleeps == []
    assert limited.value.fix is not None
    assert "600s" in limited.value.fix

    dropping = fault_proxy(registry, rate=1.0, faults=("drop",))
    fake = FakeTime()
    async with RegistryClient(dropping.url, policy=fake.policy(attempts=3)) as client:
        with pytest.raises(TransportError, match="after 3 attempts"):
            await client.list_tags("owner/repo/api")
