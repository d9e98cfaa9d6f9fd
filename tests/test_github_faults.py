"""GitHubClient when GitHub fails: lost answers after writes, transient 422s, refusals."""

from __future__ import annotations

import asyncio

import pytest

from metaboost_ci.core.errors import (
    AuthenticationRequired,
    NotFound,
    PermissionDenied,
    UnexpectedStatus,
)
from metaboost_ci.core.github import GitHubClient
from metaboost_ci.core.tags import TagCreate
from tests.support.github import GitHubEmulator, emulator_client

TAG = "1.2.0-staging.4"


def statuses(emulator: GitHubEmulator) -> list[tuple[str, str, int | None]]:
    """(method, endpoint, status) of every request, the repository prefix dropped."""
    prefix = f"/repos/{emulator.repository}"
    return [(r.method, r.path.removeprefix(prefix), r.status) for r in emulator.requests]


@pytest.mark.parametrize("fault", ["error_after_write", "drop_after_write"])
async def test_lost_answer_after_create_reads_back_created(
    github_client: GitHubClient, github_emulator: GitHubEmulator, fault: str
):
    sha = github_emulator.commit()
    setattr(github_emulator.faults, fault, 1)

    assert await github_client.create_tag_ref(TAG, sha) is TagCreate.CREATED

    # Exactly one tag, ours, and no second POST.
    assert github_emulator.tags() == {TAG: sha}
    assert github_emulator.tag_target(TAG) == sha
    lost = 502 if fault == "error_after_write" else None
    assert statuses(github_emulator) == [
        ("POST", "/git/refs", lost),
        ("GET", f"/git/ref/tags/{TAG}", 200),
    ]


async def test_lost_answer_when_someone_else_holds_the_tag_is_exists(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    theirs, ours = github_emulator.commit(), github_emulator.commit()
    github_emulator.lightweight_tag(TAG, theirs)
    github_emulator.faults.server_error = 1  # the POST fails before GitHub acts

    assert await github_client.create_tag_ref(TAG, ours) is TagCreate.EXISTS
    assert github_emulator.tag_target(TAG) == theirs


async def test_failure_before_the_write_retries_the_create(github_emulator: GitHubEmulator):
    sha = github_emulator.commit()
    github_emulator.faults.server_error = 1
    client, sleep = emulator_client(github_emulator)
    async with client:
        assert await client.create_tag_ref(TAG, sha) is TagCreate.CREATED

    assert statuses(github_emulator) == [
        ("POST", "/git/refs", 502),
        ("GET", f"/git/ref/tags/{TAG}", 404),
        ("POST", "/git/refs", 201),
    ]
    assert len(sleep.waits) == 1
    assert github_emulator.tag_target(TAG) == sha


async def test_reference_update_failed_is_transient(github_emulator: GitHubEmulator):
    sha = github_emulator.commit()
    github_emulator.faults.reference_update_failed = 2
    client, _ = emulator_client(github_emulator)
    async with client:
        assert await client.create_tag_ref(TAG, sha) is TagCreate.CREATED
    assert [s for m, _, s in statuses(github_emulator) if m == "POST"] == [422, 422, 201]


async def test_reference_update_failed_gives_up_within_the_policy(
    github_emulator: GitHubEmulator,
):
    sha = github_emulator.commit()
    github_emulator.faults.reference_update_failed = 100
    client, _ = emulator_client(github_emulator, attempts=3)
    async with client:
        with pytest.raises(UnexpectedStatus, match="Reference update failed"):
            await client.create_tag_ref(TAG, sha)
    assert len(github_emulator.requests_for("POST", "/git/refs")) == 3
    assert github_emulator.tag_target(TAG) is None


@pytest.mark.parametrize("fault", ["error_after_write", "drop_after_write"])
async def test_lost_answer_after_release_create_returns_the_release(
    github_client: GitHubClient, github_emulator: GitHubEmulator, fault: str
):
    sha = github_emulator.commit()
    await github_client.create_tag_ref(TAG, sha)
    setattr(github_emulator.faults, fault, 1)

    release = await github_client.create_release(tag=TAG, name=TAG, body="notes", prerelease=True)

    assert release.tag_name == TAG
    assert list(github_emulator.releases) == [release.id]


async def test_gets_are_retried_after_server_errors(github_emulator: GitHubEmulator):
    sha = github_emulator.commit()
    github_emulator.lightweight_tag(TAG, sha)
    github_emulator.faults.server_error = 2
    client, sleep = emulator_client(github_emulator)
    async with client:
        assert await client.get_tag_commit(TAG) == sha
    assert len(sleep.waits) == 2


async def test_token_without_write_access_names_the_permission(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    sha = github_emulator.commit()
    github_emulator.faults.read_only = True

    with pytest.raises(PermissionDenied) as caught:
        await github_client.create_tag_ref(TAG, sha)

    assert "contents: write" in str(caught.value)
    assert "Resource not accessible by integration" in str(caught.value)
    # The permission GitHub names in x-accepted-github-permissions is passed on.
    assert "GitHub says this call needs: contents=write" in str(caught.value)
    assert github_emulator.tag_target(TAG) is None


async def test_bad_token_fails_without_showing_it(github_emulator: GitHubEmulator):
    wrong = "ghp_" + "Wr0ngT0ken" * 4
    client, _ = emulator_client(github_emulator, token=wrong)
    async with client:
        with pytest.raises(AuthenticationRequired) as caught:
            await client.list_tags("1.")
    text = str(caught.value)
    assert "Bad credentials" in text
    assert "token is not valid" in text
    assert wrong not in text
    assert github_emulator.token not in text
    # It did reach the server with the token it was given.
    assert github_emulator.requests[0].headers["authorization"] == f"Bearer {wrong}"


async def test_no_token_on_a_private_repository_is_404_saying_no_token_was_given(
    github_emulator: GitHubEmulator,
):
    # GitHub hides a private repository from a request without a token: 404, not 401.
    client, _ = emulator_client(github_emulator, token=None)
    async with client:
        with pytest.raises(NotFound, match="No GitHub token was given") as caught:
            await client.get_tag_commit(TAG)
    assert caught.value.status == 404
    assert "authorization" not in github_emulator.requests[0].headers
    # The tag's 404 was not taken for "no such tag": the repository was checked.
    assert statuses(github_emulator) == [("GET", f"/git/ref/tags/{TAG}", 404), ("GET", "", 404)]


async def test_no_token_on_a_public_repository_reads_but_cannot_write(
    github_emulator: GitHubEmulator,
):
    sha = github_emulator.commit()
    github_emulator.lightweight_tag(TAG, sha)
    github_emulator.private = False
    client, _ = emulator_client(github_emulator, token=None)
    async with client:
        assert await client.get_tag_commit(TAG) == sha
        with pytest.raises(AuthenticationRequired, match="No GitHub token was given") as caught:
            await client.create_tag_ref("1.2.0-staging.5", sha)
    assert "Requires authentication" in str(caught.value)
    assert github_emulator.tag_target("1.2.0-staging.5") is None


async def test_another_repositorys_token_reads_a_public_repository_but_cannot_write(
    github_emulator: GitHubEmulator,
):
    sha = github_emulator.commit()
    github_emulator.lightweight_tag(TAG, sha)
    github_emulator.private = False
    client, _ = emulator_client(github_emulator, token=github_emulator.outsider_token)
    async with client:
        assert await client.get_tag_commit(TAG) == sha
        with pytest.raises(PermissionDenied, match="contents: write"):
            await client.create_tag_ref("1.2.0-staging.5", sha)
    assert github_emulator.tag_target("1.2.0-staging.5") is None


@pytest.mark.parametrize("read", ["get_tag_commit", "get_release", "list_tags"])
async def test_token_that_cannot_see_the_repository_names_the_causes(
    github_emulator: GitHubEmulator, read: str
):
    github_emulator.lightweight_tag(TAG, github_emulator.commit())
    outsider = github_emulator.outsider_token
    client, _ = emulator_client(github_emulator, token=outsider)
    async with client:
        with pytest.raises(NotFound) as caught:
            await getattr(client, read)(TAG)
    text = str(caught.value)
    assert "'acme/metaboost'" in text  # the repository name, to check
    assert "Contents permission" in text  # what a fine-grained token needs
    assert "GITHUB_TOKEN sees only its own repository" in text
    assert outsider not in text
    assert github_emulator.token not in text
    # A valid token: GitHub answers 404, never 401 (which would say "bad token").
    assert {r.status for r in github_emulator.requests} == {404}


async def test_wrong_repository_names_the_repository(github_emulator: GitHubEmulator):
    sha = github_emulator.commit()
    async with GitHubClient(
        "acme/no-such-repo", token=github_emulator.token, api_url=github_emulator.api_url
    ) as client:
        with pytest.raises(NotFound, match="'acme/no-such-repo'"):
            await client.create_tag_ref(TAG, sha)
        # A missing commit and a missing repository both answer 404: the
        # client checks which one it is.
        with pytest.raises(NotFound, match="Check the repository name"):
            await client.commit_exists(sha)


async def test_concurrent_absent_reads_check_the_repository_once(
    github_emulator: GitHubEmulator,
):
    # Promote reads a tag and a release at once: both find nothing, and both
    # must make sure the repository is there, with a single request between them.
    client, _ = emulator_client(github_emulator)
    async with client:
        found = await asyncio.gather(
            client.get_tag_commit("9.9.9"),
            client.get_release("9.9.9"),
            client.get_tag_commit("9.9.8"),
        )
        assert found == [None, None, None]
        assert await client.get_release("9.9.8") is None  # later reads: checked already
    repository_reads = [r for r in statuses(github_emulator) if r == ("GET", "", 200)]
    assert len(repository_reads) == 1
