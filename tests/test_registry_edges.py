"""What docker-registry itself never does, emulated by a front server that
forwards everything else to a real registry (``tests/support/registry_front.py``):
GHCR's redirects of blob reads to a storage host, and GHCR's 403.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from metaboost_ci.core.errors import PermissionDenied
from metaboost_ci.core.registry import RegistryClient, RegistryCredentials
from tests.support.images import push_image
from tests.support.registry import Registry
from tests.support.registry_front import Front, Storage, blobs_of


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    """Servers a test starts; stopped at teardown, whatever happened."""
    with contextlib.ExitStack() as servers:
        yield servers


async def test_redirected_blob_reads_carry_no_credentials(
    token_registry: Registry, stack: contextlib.ExitStack
) -> None:
    pushed = push_image(token_registry, "owner/repo/api", "1.0.0", layers=2)
    storage = stack.enter_context(Storage(blobs_of(pushed)))
    front = stack.enter_context(Front(token_registry.url, storage=storage))
    assert token_registry.credentials is not None
    credentials = RegistryCredentials(*token_registry.credentials)
    layer = pushed.layer_digests[0]
    async with RegistryClient(front.url, credentials=credentials) as client:
        assert await client.get_blob("owner/repo/api", layer) == blobs_of(pushed)[layer]
        labels = await client.image_labels("owner/repo/api", "1.0.0")
    assert labels == [{}]
    # The registry got our token on the blob requests (after the first one's 401)...
    blob_requests = [s for s in front.recorder.seen if "/blobs/" in s.path]
    assert "authorization" not in blob_requests[0].headers
    authorized = blob_requests[1:]
    assert len(authorized) == 2  # get_blob, the config for the labels
    assert all(s.headers.get("authorization", "").startswith("Bearer ") for s in authorized)
    # ...the storage host, on another port, never saw it.
    assert len(storage.recorder.seen) == 2
    assert all("authorization" not in s.headers for s in storage.recorder.seen)
    assert {s.method for s in storage.recorder.seen} == {"GET"}


async def test_403_names_the_fix_for_this_registry_and_is_not_retried(
    basic_registry: Registry, stack: contextlib.ExitStack
) -> None:
    push_image(basic_registry, "owner/repo/api", "1.0.0")
    front = stack.enter_context(Front(basic_registry.url, deny_puts=True))
    assert basic_registry.credentials is not None
    credentials = RegistryCredentials(*basic_registry.credentials)
    async with RegistryClient(front.url, credentials=credentials) as client:
        manifest = await client.get_manifest("owner/repo/api", "1.0.0")
        with pytest.raises(PermissionDenied) as caught:
            await client.put_manifest("owner/repo/api", "latest", manifest)
    error = caught.value
    assert error.code == "DENIED"
    assert error.fix is not None
    # Not GHCR: the advice is about this registry's user rights, not GHCR's settings.
    assert "push) rights" in error.fix
    assert "Manage Actions access" not in error.fix
    assert sum(1 for s in front.recorder.seen if s.method == "PUT") == 1
