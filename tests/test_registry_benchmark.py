"""Request counts of the registry client's common paths (run with -m benchmark).

Counts, not times: round trips are what a release pays on GHCR. Each figure is
the client's own count (token exchanges and 401 challenges included) on a
token-auth docker-registry 2.8.2, like ghcr.io's flow.
"""

from __future__ import annotations

import pytest

from metaboost_ci.core.registry import RegistryClient, RegistryCredentials
from tests.support.images import push_index
from tests.support.registry import Registry, TokenServer

pytestmark = pytest.mark.benchmark


async def test_request_counts(
    token_registry: Registry, token_server: TokenServer, capsys: pytest.CaptureFixture[str]
) -> None:
    push_index(token_registry, "owner/repo/api", "1.0.0-staging.3", attestation=True, layers=2)
    assert token_registry.credentials is not None
    credentials = RegistryCredentials(*token_registry.credentials)
    figures: list[tuple[str, int, int]] = []

    # The promotion of one app: list, read once, then HEAD + PUT per target tag.
    async with RegistryClient(token_registry.url, credentials=credentials) as client:
        await client.authorize(push=["owner/repo/api"])
        await client.list_tags("owner/repo/api")
        source = await client.get_manifest("owner/repo/api", "1.0.0-staging.3")
        for tag in ("1.0.0", "latest"):
            if await client.head_manifest("owner/repo/api", tag) is None:
                await client.put_manifest("owner/repo/api", tag, source)
        figures.append(("promote one app to 2 tags", client.requests_sent, client.token_exchanges))
        budget = client.requests_sent - 2  # the /v2/ probe and the one exchange

    async with RegistryClient(token_registry.url, credentials=credentials) as client:
        await client.authorize(push=["owner/repo/api"])
        await client.list_tags("owner/repo/api")
        await client.get_manifest("owner/repo/api", "1.0.0-staging.3")
        for tag in ("1.0.0", "latest"):
            await client.head_manifest("owner/repo/api", tag)
        figures.append(
            ("same promotion again (already there)", client.requests_sent, client.token_exchanges)
        )

    with capsys.disabled():
        print("\nregistry client requests (exchanges included):")
        for what, requests, exchanges in figures:
            print(f"  {what:<52} {requests:>3} requests, {exchanges} token exchanges")
    assert budget <= 6  # list, read, HEAD + PUT per tag: the promotion's per-app goal
