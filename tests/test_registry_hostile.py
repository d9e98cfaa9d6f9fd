"""A hostile registry: answers without end, answers a byte at a time, digests
that lie. A front (``tests/support/registry_front.py``) forwards to a real
docker-registry 2.8.2 and misbehaves on the switches each test sets."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from metaboost_ci.core.errors import CheckFailed, TransportError
from metaboost_ci.core.flows import promote
from metaboost_ci.core.net import RetryPolicy
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.core.registry import RegistryClient, RegistryProtocolError
from tests.support.images import push_image
from tests.support.registry import Registry
from tests.support.registry_front import Front
from tests.support.release import ReleaseWorld, WorldFactory, run_cli

MIB = 1024 * 1024
# What the kernel may hold between the front's writes and the client's reads
# (loopback send and receive buffers grow to a few MiB each): bytes the front
# got out that nobody read. Far below the answers' sizes below.
SOCKET_SLACK = 24 * MIB
HUGE = 64 * MIB


@pytest.fixture
def front(registry: Registry) -> Iterator[Front]:
    with Front(registry.url) as started:
        yield started


async def test_a_huge_manifest_is_read_to_4_mib_and_refused_naming_the_image(
    registry: Registry, front: Front
) -> None:
    push_image(registry, "owner/repo/api", "1.0.0")
    front.oversize = HUGE
    async with RegistryClient(front.url) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            await client.get_manifest("owner/repo/api", "1.0.0")
    text = str(caught.value)
    assert f"manifest owner/repo/api:1.0.0 is larger than {4 * MIB} bytes" in text
    assert "4 MiB" in text
    # Reading stopped at the limit: the front could not send much more.
    assert front.sent_bytes < 4 * MIB + SOCKET_SLACK


async def test_a_huge_config_blob_is_read_to_8_mib_and_refused(
    registry: Registry, front: Front
) -> None:
    pushed = push_image(registry, "owner/repo/api", "1.0.0")
    front.oversize = HUGE
    front.oversize_path = r"/blobs/"
    async with RegistryClient(front.url) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            await client.image_labels("owner/repo/api", "1.0.0")
    config = pushed.config_digest
    assert f"image config owner/repo/api@{config} is larger than {8 * MIB} bytes" in str(
        caught.value
    )
    assert front.sent_bytes < 8 * MIB + SOCKET_SLACK


def test_promote_dry_run_stops_at_a_huge_manifest(
    world_factory: WorldFactory, registry: Registry, front: Front
) -> None:
    world: ReleaseWorld = world_factory(via=registry.via(front.url))
    commit = world.commit()
    world.github.repos.remote_tag_create("1.5.0-staging.0", commit)
    world.push_build("1.5.0-staging.0", commit, seed=5)
    front.oversize = HUGE
    result = run_cli(
        [
            *world.cli_options(),
            "promote",
            "--commit",
            commit,
            "--base-version",
            "1.5.0",
            "--dry-run",
        ],
        env=world.env(),
        cwd=world.work,
    )
    assert result.code == 1, result.all_output
    assert "acme/metaboost/" in result.err
    assert ":1.5.0-staging.0 is larger than 4194304 bytes" in result.err
    # Six apps read at once, each stopped at the limit.
    assert front.sent_bytes < 6 * (4 * MIB + SOCKET_SLACK)


# --------------------------------------------------------------- slow answers


async def test_a_dripping_answer_ends_at_the_try_deadline_announced_meanwhile(
    registry: Registry, front: Front
) -> None:
    pushed = push_image(registry, "owner/repo/api", "1.0.0")
    front.drip = 0.02  # the whole manifest would take many seconds
    progress = RecordingProgress()
    policy = RetryPolicy(attempts=1, attempt_seconds=0.5, heartbeat_seconds=0.1)
    async with RegistryClient(front.url, policy=policy, progress=progress) as client:
        with pytest.raises(TransportError) as caught:
            await client.get_manifest("owner/repo/api", "1.0.0")
    assert "GET" in str(caught.value)
    assert "/v2/owner/repo/api/manifests/1.0.0 failed: no complete answer within 0.5 s" in str(
        caught.value
    )
    assert front.sent_bytes < len(pushed.manifest_bytes)  # cut off, not waited out
    waiting = [line for line in progress.lines if "still waiting for the answer" in line]
    assert waiting, progress.lines
    assert re.fullmatch(
        r"GET 127\.0\.0\.1:\d+/v2/owner/repo/api/manifests/1\.0\.0: still waiting for the "
        r"answer after 0\.\d s \(a try gives up after 0\.5 s\)",
        waiting[0],
    ), waiting[0]


async def test_retries_of_dripping_answers_end_at_the_request_deadline(
    registry: Registry, front: Front
) -> None:
    push_image(registry, "owner/repo/api", "1.0.0")
    front.drip = 0.02
    # Many tries allowed, but the request as a whole has 1.5 s of real time.
    policy = RetryPolicy(attempts=100, attempt_seconds=0.3, total_seconds=1.5, base_delay=0.01)
    async with RegistryClient(front.url, policy=policy) as client:
        with pytest.raises(TransportError, match="no complete answer within") as caught:
            await client.get_manifest("owner/repo/api", "1.0.0")
    assert "attempts" in str(caught.value)
    gets = [s for s in front.recorder.seen if s.method == "GET" and "/manifests/" in s.path]
    assert 2 <= len(gets) <= 6  # about 1.5 / 0.3 tries, then it stopped


def test_a_command_stops_at_its_deadline(
    world_factory: WorldFactory, registry: Registry, front: Front
) -> None:
    world: ReleaseWorld = world_factory(via=registry.via(front.url))
    world.push_build("1.5.0", None, seed=6)
    front.drip = 0.02
    env = {**world.env(), "METABOOST_CI_DEADLINE": "1.5"}
    result = run_cli(
        [*world.cli_options(), "verify", "--version", "1.5.0", "--revisions"],
        env=env,
        cwd=world.work,
    )
    assert result.code == 1, result.all_output
    assert "metaboost-ci verify did not finish within 1.5 s (METABOOST_CI_DEADLINE)" in result.err
    assert "Traceback" not in result.all_output


@pytest.mark.parametrize("value", ["0", "-3", "soon", "nan", "inf"])
def test_a_bad_deadline_is_bad_input_before_any_request(
    world_factory: WorldFactory, registry: Registry, front: Front, value: str
) -> None:
    world: ReleaseWorld = world_factory(via=registry.via(front.url))
    env = {**world.env(), "METABOOST_CI_DEADLINE": value}
    result = run_cli([*world.cli_options(), "verify", "--version", "1.5.0"], env=env)
    assert result.code == 2, result.all_output
    assert f"METABOOST_CI_DEADLINE={value!r} is not a positive number of seconds." in result.err
    assert front.recorder.seen == []


# ----------------------------------------------------------- digests that lie

LIE = "sha256:" + "1ead" * 16


def test_summary_pins_the_digest_of_the_bytes_not_of_a_header(
    world_factory: WorldFactory, registry: Registry, front: Front
) -> None:
    world: ReleaseWorld = world_factory(via=registry.via(front.url))
    pushed = world.push_build("1.5.0", None, seed=7)
    front.lie_digest = LIE
    front.lie_methods = ("HEAD",)  # what a HEAD-only verify would believe
    result = run_cli(
        [*world.cli_options(), "summary", "--version", "1.5.0", "--format", "kustomize"],
        env=world.env(),
        cwd=world.work,
    )
    assert result.code == 0, result.all_output
    assert LIE not in result.out
    for app, image in pushed.items():
        assert f"  - name: {front.url.removeprefix('http://')}/acme/metaboost/{app}\n" in result.out
        assert f'    digest: "{image.digest}"' in result.out


def test_a_digest_header_that_disagrees_with_the_bytes_fails_naming_the_image(
    world_factory: WorldFactory, registry: Registry, front: Front
) -> None:
    world: ReleaseWorld = world_factory(via=registry.via(front.url))
    world.push_build("1.5.0", None, seed=8)
    front.lie_digest = LIE
    result = run_cli(
        [*world.cli_options(), "summary", "--version", "1.5.0", "--format", "kustomize"],
        env=world.env(),
        cwd=world.work,
    )
    assert result.code == 1, result.all_output
    assert "manifest acme/metaboost/api:1.5.0: the bytes received hash to sha256:" in result.err
    assert f"not {LIE}" in result.err
    assert "digest:" not in result.out


async def test_a_release_tag_a_header_says_is_promoted_already_is_read_from_its_bytes(
    world_factory: WorldFactory, registry: Registry, front: Front
) -> None:
    world: ReleaseWorld = world_factory(via=registry.via(front.url))
    commit = world.commit()
    world.github.repos.remote_tag_create("1.5.0-staging.0", commit)
    staged = world.push_build("1.5.0-staging.0", commit, seed=9)
    other = world.push_build("1.5.0", commit, seed=10)  # 1.5.0 names other images
    # The registry claims, on HEAD, that 1.5.0 names what is being promoted.
    front.lie_digest = staged["api"].digest
    front.lie_methods = ("HEAD",)
    front.lie_path = r"/acme/metaboost/api/manifests/1\.5\.0$"
    async with world.context() as ctx:
        with pytest.raises(CheckFailed) as caught:
            await promote(ctx, commit=commit, base="1.5.0")
    assert f"already names {other['api'].digest}" in str(caught.value.problems)
    assert world.digests("1.5.0") == {app: image.digest for app, image in other.items()}
    assert world.digests("latest") == dict.fromkeys(world.apps)
