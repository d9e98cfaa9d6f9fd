"""GitHubClient against the GitHub API emulator (a real HTTP server over a real Git repo)."""

from __future__ import annotations

import httpx
import pytest

from metaboost_ci.core.errors import ConfigError, InputError, RemoteError
from metaboost_ci.core.github import GitHubClient, GitHubTagStore, Release
from metaboost_ci.core.tags import TagCreate, TagStore
from tests.support.github import GitHubEmulator
from tests.support.gitrepo import make_repos


async def test_create_tag_ref_then_exists(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    first, second = github_emulator.commit(), github_emulator.commit()

    assert await github_client.create_tag_ref("1.2.0-staging.0", first) is TagCreate.CREATED
    assert await github_client.create_tag_ref("1.2.0-staging.0", second) is TagCreate.EXISTS

    assert github_emulator.tag_target("1.2.0-staging.0") == first
    posts = github_emulator.requests_for("POST", "/git/refs")
    assert [p.body for p in posts] == [
        {"ref": "refs/tags/1.2.0-staging.0", "sha": first},
        {"ref": "refs/tags/1.2.0-staging.0", "sha": second},
    ]
    assert [p.status for p in posts] == [201, 422]


async def test_requests_carry_github_headers(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    await github_client.get_tag_commit("absent")
    headers = github_emulator.requests[-1].headers
    assert headers["authorization"] == f"Bearer {github_emulator.token}"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    # GitHub refuses a request without a User-Agent (the emulator does too).
    assert headers["user-agent"] == "metaboost-ci"


async def test_get_tag_commit_lightweight_annotated_absent(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    sha = github_emulator.commit()
    github_emulator.lightweight_tag("light", sha)
    tag_object = github_emulator.annotated_tag("heavy", sha, message="an annotated tag")
    assert tag_object != sha

    assert await github_client.get_tag_commit("light") == sha
    assert await github_client.get_tag_commit("heavy") == sha
    assert await github_client.get_tag_commit("missing") is None
    # The annotated tag was followed through the real tag object.
    assert github_emulator.requests_for("GET", f"/git/tags/{tag_object}")


async def test_list_tags_by_prefix_peels_annotated(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    a, b = github_emulator.commit(), github_emulator.commit()
    github_emulator.lightweight_tag("1.2.0-staging.0", a)
    github_emulator.annotated_tag("1.2.0-staging.1", b)
    github_emulator.lightweight_tag("1.2.0", b)
    github_emulator.lightweight_tag("1.20.0-staging.0", a)

    assert await github_client.list_tags("1.2.0-staging.") == {
        "1.2.0-staging.0": a,
        "1.2.0-staging.1": b,
    }
    assert await github_client.list_tags("9.9.9-staging.") == {}
    assert set(await github_client.list_tags("")) == {
        "1.2.0-staging.0",
        "1.2.0-staging.1",
        "1.2.0",
        "1.20.0-staging.0",
    }


async def test_list_tags_follows_link_pagination(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    sha = github_emulator.commit()
    for n in range(7):
        github_emulator.lightweight_tag(f"2.0.0-staging.{n}", sha)
    github_emulator.page_size = 3

    tags = await github_client.list_tags("2.0.0-staging.")

    assert tags == {f"2.0.0-staging.{n}": sha for n in range(7)}
    pages = github_emulator.requests_for("GET", "/git/matching-refs/")
    assert [p.query.get("page", ["1"]) for p in pages] == [["1"], ["2"], ["3"]]
    # GitHub's next links name the repository by id; the client follows them as given.
    assert [p.path.split("/")[1] for p in pages] == ["repos", "repositories", "repositories"]


async def test_commit_exists(github_client: GitHubClient, github_emulator: GitHubEmulator):
    pushed = github_emulator.commit()
    unpushed = github_emulator.repos.commit(push=False)

    assert await github_client.commit_exists(pushed) is True
    assert await github_client.commit_exists(unpushed) is False


async def test_create_tag_for_unknown_commit_is_input_error(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    unpushed = github_emulator.repos.commit(push=False)
    with pytest.raises(InputError, match=f"no commit {unpushed}"):
        await github_client.create_tag_ref("1.2.0-staging.0", unpushed)
    assert github_emulator.tag_target("1.2.0-staging.0") is None


@pytest.mark.parametrize(
    ("tag", "sha", "problem"),
    [
        ("bad tag", "a" * 40, "not a valid Git tag name"),
        ("x..y", "a" * 40, "not a valid Git tag name"),
        ("1.0.0", "abc123", "not a full commit SHA"),
    ],
)
async def test_bad_input_fails_before_any_request(
    github_client: GitHubClient, github_emulator: GitHubEmulator, tag: str, sha: str, problem: str
):
    with pytest.raises(InputError, match=problem):
        await github_client.create_tag_ref(tag, sha)
    assert github_emulator.requests == []
    assert github_client.requests_sent == 0


@pytest.mark.parametrize("repository", ["acme", "acme/metaboost/extra", "", "ac me/x"])
def test_malformed_repository_is_config_error(repository: str):
    with pytest.raises(ConfigError, match="OWNER/REPO"):
        GitHubClient(repository, token=None)


def test_api_url_must_be_http():
    with pytest.raises(ConfigError, match="not an http"):
        GitHubClient("acme/metaboost", token=None, api_url="ftp://example.com")


async def test_enterprise_style_api_prefix(tmp_path):
    emulator = GitHubEmulator(make_repos(tmp_path / "ghe"), path_prefix="/api/v3")
    emulator.start()
    try:
        sha = emulator.commit()
        async with GitHubClient(
            emulator.repository, token=emulator.token, api_url=emulator.api_url + "/"
        ) as github:
            assert await github.create_tag_ref("v1", sha) is TagCreate.CREATED
            assert await github.get_tag_commit("v1") == sha
        assert all(r.path.startswith("/api/v3/repos/") for r in emulator.requests)
    finally:
        emulator.stop()


# -- releases -------------------------------------------------------------------


async def test_release_lifecycle(github_client: GitHubClient, github_emulator: GitHubEmulator):
    sha = github_emulator.commit()
    await github_client.create_tag_ref("1.2.0-staging.3", sha)
    assert await github_client.get_release("1.2.0-staging.3") is None

    made = await github_client.create_release(
        tag="1.2.0-staging.3", name="1.2.0-staging.3", body="notes", prerelease=True
    )
    assert made == Release(
        id=made.id,
        tag_name="1.2.0-staging.3",
        name="1.2.0-staging.3",
        body="notes",
        prerelease=True,
        draft=False,
        html_url="https://github.com/acme/metaboost/releases/tag/1.2.0-staging.3",
    )
    post = github_emulator.requests_for("POST", "/releases")[-1]
    assert post.body == {
        "tag_name": "1.2.0-staging.3",
        "name": "1.2.0-staging.3",
        "body": "notes",
        "prerelease": True,
        "draft": False,
    }
    assert await github_client.get_release("1.2.0-staging.3") == made

    updated = await github_client.update_release(made.id, body="better notes", prerelease=False)
    assert (updated.body, updated.prerelease, updated.name) == ("better notes", False, made.name)
    patch = github_emulator.requests_for("PATCH", f"/releases/{made.id}")[-1]
    assert patch.body == {"body": "better notes", "prerelease": False}


async def test_make_latest_is_sent_as_a_string(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    sha = github_emulator.commit()
    await github_client.create_tag_ref("1.0.0", sha)
    await github_client.create_tag_ref("0.9.0", sha)

    first = await github_client.create_release(
        tag="1.0.0", name="1.0.0", body="", prerelease=False, make_latest=True
    )
    await github_client.create_release(
        tag="0.9.0", name="0.9.0", body="", prerelease=False, make_latest=False
    )

    bodies = [r.body for r in github_emulator.requests_for("POST", "/releases")]
    assert [b["make_latest"] for b in bodies] == ["true", "false"]
    assert github_emulator.latest_release_id == first.id


async def test_duplicate_release_returns_the_existing_one(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    sha = github_emulator.commit()
    await github_client.create_tag_ref("1.0.0", sha)
    first = await github_client.create_release(tag="1.0.0", name="one", body="a", prerelease=False)

    again = await github_client.create_release(tag="1.0.0", name="two", body="b", prerelease=False)

    assert again == first
    assert [r.status for r in github_emulator.requests_for("POST", "/releases")] == [201, 422]
    assert len(github_emulator.releases) == 1


async def test_release_for_missing_tag_is_refused_before_writing(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    with pytest.raises(InputError, match="does not exist"):
        await github_client.create_release(tag="7.7.7", name="x", body="", prerelease=False)
    assert github_emulator.requests_for("POST", "/releases") == []
    assert github_emulator.tag_target("7.7.7") is None


# -- the tag store over the client ---------------------------------------------------


async def test_github_tag_store_is_a_tag_store(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    store: TagStore = GitHubTagStore(github_client)
    sha = github_emulator.commit()

    assert await store.create_tag("3.0.0-staging.0", sha) is TagCreate.CREATED
    assert await store.create_tag("3.0.0-staging.0", sha) is TagCreate.EXISTS
    assert await store.tag_commit("3.0.0-staging.0") == sha
    assert await store.list_tags("3.0.0-") == {"3.0.0-staging.0": sha}
    assert "acme/metaboost" in store.description
    assert github_emulator.token not in store.description


async def test_duplicate_of_a_draft_release_says_so(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    sha = github_emulator.commit()
    await github_client.create_tag_ref("1.0.0", sha)
    # Somebody made a draft by hand: GitHub does not find drafts by tag.
    async with httpx.AsyncClient() as http:
        made = await http.post(
            f"{github_emulator.api_url}/repos/{github_emulator.repository}/releases",
            json={"tag_name": "1.0.0", "draft": True},
            headers={"Authorization": f"Bearer {github_emulator.token}"},
        )
    assert made.status_code == 201

    with pytest.raises(RemoteError, match="probably a draft"):
        await github_client.create_release(tag="1.0.0", name="1.0.0", body="", prerelease=False)


async def test_the_emulator_refuses_a_request_without_user_agent_as_github_does(
    github_emulator: GitHubEmulator,
):
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{github_emulator.api_url}/repos/{github_emulator.repository}",
            headers={"Authorization": f"Bearer {github_emulator.token}", "User-Agent": ""},
        )
    assert answer.status_code == 403
    assert "User-Agent header" in answer.text


async def test_a_repository_that_answered_is_not_asked_about_again(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    # A 404 on a tag or release means "absent" only once the repository itself
    # answered; any success inside it is such an answer, so no GET of it follows.
    sha = github_emulator.commit()
    assert await github_client.create_tag_ref("2.0.0", sha) is TagCreate.CREATED
    assert await github_client.get_tag_commit("missing") is None
    assert await github_client.get_release("2.0.0") is None
    repository = f"/repos/{github_client.repository}"
    assert [r for r in github_emulator.requests if r.path == repository] == []


async def test_a_404_before_any_answer_from_the_repository_asks_about_it_once(
    github_client: GitHubClient, github_emulator: GitHubEmulator
):
    assert await github_client.get_tag_commit("missing") is None
    assert await github_client.get_release("missing") is None
    repository = f"/repos/{github_client.repository}"
    assert len([r for r in github_emulator.requests if r.path == repository]) == 1
