"""GitHub's primary and secondary rate limits, as the emulator sends them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from metaboost_ci.core.errors import RateLimited
from metaboost_ci.core.github.ratelimit import RESET_MARGIN, SECONDARY_MIN_WAIT
from metaboost_ci.core.tags import TagCreate
from tests.support.github import GitHubEmulator, emulator_client

TAG = "1.2.0-staging.7"


async def test_every_answer_carries_rate_limit_headers(github_emulator: GitHubEmulator):
    client, _ = emulator_client(github_emulator)
    async with client:
        await client.get_tag_commit(TAG)
        await client.list_tags("")
    for request in github_emulator.requests:
        headers = request.response_headers
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(headers)
    remaining = [int(r.response_headers["x-ratelimit-remaining"]) for r in github_emulator.requests]
    assert remaining == sorted(remaining, reverse=True)


@pytest.mark.parametrize("status", [403, 429])
async def test_primary_limit_waits_until_the_reset(github_emulator: GitHubEmulator, status: int):
    sha = github_emulator.commit()
    github_emulator.faults.rate_limit_status = status
    github_emulator.faults.primary_rate_limit = 1
    github_emulator.faults.primary_reset_in = 2
    client, sleep = emulator_client(github_emulator)
    before = time.time()
    async with client:
        assert await client.create_tag_ref(TAG, sha) is TagCreate.CREATED
    after = time.time()

    limited = github_emulator.requests[0]
    assert (limited.status, limited.response_headers["x-ratelimit-remaining"]) == (status, "0")
    reset = int(limited.response_headers["x-ratelimit-reset"])
    assert len(sleep.waits) == 1
    # The wait is "until the reset" as seen when the 403 arrived (plus the margin).
    assert reset - after + RESET_MARGIN <= sleep.waits[0] <= reset - before + RESET_MARGIN
    assert github_emulator.tag_target(TAG) == sha


async def test_primary_limit_far_away_fails_naming_the_reset_time(
    github_emulator: GitHubEmulator,
):
    sha = github_emulator.commit()
    github_emulator.faults.primary_rate_limit = 1
    github_emulator.faults.primary_reset_in = 3600
    client, sleep = emulator_client(github_emulator)
    async with client:
        with pytest.raises(RateLimited) as caught:
            await client.create_tag_ref(TAG, sha)

    reset = int(github_emulator.requests[0].response_headers["x-ratelimit-reset"])
    when = datetime.fromtimestamp(reset, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert when in str(caught.value)
    assert sleep.waits == []
    assert len(github_emulator.requests) == 1
    assert github_emulator.tag_target(TAG) is None


async def test_primary_limit_that_persists_is_rate_limited_not_permission(
    github_emulator: GitHubEmulator,
):
    github_emulator.faults.primary_rate_limit = 100
    github_emulator.faults.primary_reset_in = 1
    client, sleep = emulator_client(github_emulator, attempts=3)
    async with client:
        with pytest.raises(RateLimited, match="rate limit resets at"):
            await client.get_tag_commit(TAG)
    assert len(sleep.waits) == 2
    assert len(github_emulator.requests) == 3


@pytest.mark.parametrize("status", [403, 429])
async def test_secondary_limit_honours_retry_after(github_emulator: GitHubEmulator, status: int):
    sha = github_emulator.commit()
    github_emulator.faults.rate_limit_status = status
    github_emulator.faults.secondary_rate_limit = 1
    github_emulator.faults.secondary_retry_after = 7
    client, sleep = emulator_client(github_emulator)
    async with client:
        assert await client.create_tag_ref(TAG, sha) is TagCreate.CREATED
    assert sleep.waits == [7.0]
    assert github_emulator.requests[0].status == status
    assert github_emulator.requests[0].response_headers["retry-after"] == "7"


async def test_secondary_limit_without_retry_after_waits_a_minute_then_backs_off(
    github_emulator: GitHubEmulator,
):
    github_emulator.faults.secondary_rate_limit = 2
    github_emulator.faults.secondary_retry_after = None
    client, sleep = emulator_client(github_emulator, max_server_wait=90)
    async with client:
        # First a minute; the second wait would be two, more than we wait.
        with pytest.raises(RateLimited, match="secondary rate limit asks us to wait 120s"):
            await client.get_tag_commit(TAG)
    assert sleep.waits == [SECONDARY_MIN_WAIT]


async def test_secondary_limit_once_then_success(github_emulator: GitHubEmulator):
    github_emulator.faults.secondary_rate_limit = 1
    github_emulator.faults.secondary_retry_after = None
    client, sleep = emulator_client(github_emulator)
    async with client:
        assert await client.get_tag_commit(TAG) is None
    assert sleep.waits == [SECONDARY_MIN_WAIT]
