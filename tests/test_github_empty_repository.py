"""A GitHub repository with no commits: GitHub's Git database answers 409, we say why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from metaboost_ci.core.errors import InputError
from metaboost_ci.core.github import GitHubClient
from metaboost_ci.core.tags import TagCreate
from tests.support.github import GitHubEmulator, emulator_client, make_empty_repos

TAG = "1.0.0-staging.0"
SHA = "c" * 40


@pytest.fixture
def empty_emulator(tmp_path: Path) -> Iterator[GitHubEmulator]:
    with GitHubEmulator(make_empty_repos(tmp_path / "empty")) as emulator:
        yield emulator


CALLS: dict[str, Callable[[GitHubClient], Awaitable[object]]] = {
    "create_tag_ref": lambda c: c.create_tag_ref(TAG, SHA),
    "get_tag_commit": lambda c: c.get_tag_commit(TAG),
    "list_tags": lambda c: c.list_tags("1.0.0-"),
    "commit_exists": lambda c: c.commit_exists(SHA),
    "create_release": lambda c: c.create_release(tag=TAG, name=TAG, body="", prerelease=True),
}


@pytest.mark.parametrize("call", list(CALLS))
async def test_empty_repository_says_push_first_without_retrying(
    empty_emulator: GitHubEmulator, call: str
):
    client, sleep = emulator_client(empty_emulator)
    async with client:
        with pytest.raises(InputError) as caught:
            await CALLS[call](client)

    text = str(caught.value)
    assert "acme/metaboost has no commits yet" in text
    assert "Git Repository is empty." in text
    assert "Push the branch first" in text
    assert empty_emulator.token not in text
    # One request, answered 409, and no retry: waiting does not fill a repository.
    assert [r.status for r in empty_emulator.requests] == [409]
    assert sleep.waits == []
    assert empty_emulator.tags() == {}


async def test_the_emulator_answers_as_github_does(empty_emulator: GitHubEmulator):
    client, _ = emulator_client(empty_emulator)
    async with client:
        with pytest.raises(InputError):
            await client.create_tag_ref(TAG, SHA)
    (post,) = empty_emulator.requests
    assert post.status == 409
    assert post.response_headers["content-type"].startswith("application/json")


async def test_after_the_first_push_the_same_calls_work(empty_emulator: GitHubEmulator):
    sha = empty_emulator.commit()  # the first push
    client, _ = emulator_client(empty_emulator)
    async with client:
        assert await client.list_tags("1.0.0-") == {}
        assert await client.create_tag_ref(TAG, sha) is TagCreate.CREATED
        assert await client.get_tag_commit(TAG) == sha
