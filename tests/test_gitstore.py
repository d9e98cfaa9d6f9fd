"""GitRemoteTagStore against real bare repositories, pushed to by real git."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from metaboost_ci.core.errors import ConfigError, InputError, RemoteError
from metaboost_ci.core.gitstore import GitRemoteTagStore, parse_ls_remote, parse_push_porcelain
from metaboost_ci.core.net import RetryPolicy
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.core.tags import TagCreate, TagStore
from tests.support.gitrepo import GitRepos

A = "a" * 40
B = "b" * 40
C = "c" * 40


def store_for(repos: GitRepos) -> GitRemoteTagStore:
    return GitRemoteTagStore(str(repos.bare), local_repo=repos.work)


def test_parse_ls_remote_uses_peeled_lines():
    output = (
        f"{A}\trefs/tags/light\n"
        f"{B}\trefs/tags/heavy\n"
        f"{C}\trefs/tags/heavy^{{}}\n"
        f"{A}\trefs/heads/main\n"
    )
    assert parse_ls_remote(output) == {"light": A, "heavy": C}


def test_parse_push_porcelain():
    output = f"To /srv/origin.git\n!\t{A}:refs/tags/1.0.0\t[rejected] (already exists)\nDone\n"
    line = parse_push_porcelain(output, "refs/tags/1.0.0")
    assert line is not None
    assert (line.flag, line.summary) == ("!", "[rejected] (already exists)")
    assert parse_push_porcelain(output, "refs/tags/1.0") is None


async def test_list_tags_lightweight_and_annotated(git_repos: GitRepos):
    a = git_repos.commit()
    b = git_repos.commit()
    git_repos.tag("1.2.0-staging.0", a)
    tag_object = git_repos.tag("1.2.0-staging.1", b, message="annotated")
    git_repos.tag("1.2.0", b)
    git_repos.tag("1.20.0-staging.0", a)
    # Tail-matches git's ls-remote pattern, but is not a tag starting with the prefix.
    git_repos.tag("mirror/refs/tags/1.2.0-staging.9", a)
    assert tag_object != b

    store = store_for(git_repos)

    assert await store.list_tags("1.2.0-staging.") == {"1.2.0-staging.0": a, "1.2.0-staging.1": b}
    assert await store.list_tags("7.") == {}
    assert len(await store.list_tags("")) == 5


async def test_tag_commit_follows_annotated_tags(git_repos: GitRepos):
    sha = git_repos.commit()
    git_repos.tag("light", sha)
    git_repos.tag("heavy", sha, message="annotated")
    store = store_for(git_repos)

    assert await store.tag_commit("light") == sha
    assert await store.tag_commit("heavy") == sha
    assert await store.tag_commit("absent") is None
    assert await store.tag_commit("ligh") is None  # exact names only


async def test_create_then_exists_never_moves_the_tag(git_repos: GitRepos):
    first = git_repos.commit()
    second = git_repos.commit()
    store: TagStore = store_for(git_repos)

    assert await store.create_tag("1.2.0-staging.0", first) is TagCreate.CREATED
    assert await store.create_tag("1.2.0-staging.0", second) is TagCreate.EXISTS
    assert await store.create_tag("1.2.0-staging.0", first) is TagCreate.EXISTS

    assert git_repos.remote_tag("1.2.0-staging.0") == first


async def test_existing_annotated_tag_is_exists(git_repos: GitRepos):
    sha = git_repos.commit()
    git_repos.tag("1.0.0", sha, message="annotated")
    tag_object = git_repos.remote_tag("1.0.0")

    assert await store_for(git_repos).create_tag("1.0.0", sha) is TagCreate.EXISTS
    assert git_repos.remote_tag("1.0.0") == tag_object


async def test_create_sends_a_local_only_commit_along(git_repos: GitRepos):
    local_only = git_repos.commit(push=False)
    store = store_for(git_repos)
    assert await store.commit_exists(local_only) is False

    assert await store.create_tag("2.0.0", local_only) is TagCreate.CREATED

    assert git_repos.remote_tag("2.0.0") == local_only
    assert await store.commit_exists(local_only) is True


async def test_unknown_commit_fails_before_pushing(git_repos: GitRepos):
    store = store_for(git_repos)
    with pytest.raises(InputError, match=f"Commit {A} is not in the local repository"):
        await store.create_tag("1.0.0", A)
    assert git_repos.remote_tags() == {}


async def test_a_local_folder_that_is_no_repository_names_the_option(
    git_repos: GitRepos, tmp_path: Path
):
    store = GitRemoteTagStore(str(git_repos.bare), local_repo=tmp_path)
    with pytest.raises(ConfigError, match="is not a Git repository") as caught:
        await store.create_tag("1.0.0", git_repos.commit())
    # The fix names an option that exists (the command line's --source).
    assert "--source" in (caught.value.fix or "")
    assert git_repos.remote_tags() == {}


@pytest.mark.parametrize(("tag", "sha"), [("bad tag", A), ("1.0.0", "abc")])
async def test_bad_input_is_input_error(git_repos: GitRepos, tag: str, sha: str):
    with pytest.raises(InputError):
        await store_for(git_repos).create_tag(tag, sha)


async def test_commit_exists(git_repos: GitRepos):
    pushed = git_repos.commit()
    store = store_for(git_repos)
    assert await store.commit_exists(pushed) is True
    assert await store.commit_exists(A) is False


async def test_remote_by_name_and_by_relative_path(git_repos: GitRepos, monkeypatch):
    sha = git_repos.commit()
    by_name = GitRemoteTagStore("origin", local_repo=git_repos.work)
    assert await by_name.create_tag("named", sha) is TagCreate.CREATED
    assert await by_name.commit_exists(sha) is True

    monkeypatch.chdir(git_repos.bare.parent)
    relative = GitRemoteTagStore(f"./{git_repos.bare.name}", local_repo=git_repos.work)
    assert relative.remote == str(git_repos.bare)
    assert await relative.tag_commit("named") == sha


async def test_push_skips_hooks_and_sends_no_other_tags(git_repos: GitRepos):
    sha = git_repos.commit()
    hook = git_repos.work / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\necho 'pre-push hook ran' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    git_repos.git("config", "push.followTags", "true")
    git_repos.tag("local-only", sha, message="not for the remote", push=False)

    assert await store_for(git_repos).create_tag("3.0.0", sha) is TagCreate.CREATED

    assert set(git_repos.remote_tags()) == {"3.0.0"}


async def test_missing_remote_is_a_clear_remote_error(tmp_path: Path, git_repos: GitRepos):
    store = GitRemoteTagStore(str(tmp_path / "nowhere.git"), local_repo=git_repos.work)
    with pytest.raises(RemoteError, match=r"nowhere\.git") as caught:
        await store.list_tags("")
    assert "does not appear to be a git repository" in str(caught.value)


SECRET_IN_URL = "ghs_" + "S3cr3tInUrl" * 3


# Nothing listens on port 9 of the loopback: git fails to connect (and echoes the URL).
@pytest.mark.parametrize(
    "remote",
    [
        f"https://x-access-token:{SECRET_IN_URL}@127.0.0.1:9/acme/metaboost.git",
        f"https://{SECRET_IN_URL}@127.0.0.1:9/acme/metaboost.git",
        f"https://127.0.0.1:9/acme/metaboost.git?access_token={SECRET_IN_URL}",
        f"https://user:other-secret-77@127.0.0.1:9/acme/metaboost.git?t={SECRET_IN_URL}",
    ],
    ids=["password", "bare-token", "query", "password-and-query"],
)
async def test_credentials_in_the_remote_url_never_show(git_repos: GitRepos, remote: str):
    store = GitRemoteTagStore(remote, local_repo=git_repos.work)
    sha = git_repos.commit()

    for action in (store.list_tags(""), store.create_tag("1.0.0", sha), store.commit_exists(sha)):
        with pytest.raises(RemoteError) as caught:
            await action
        assert SECRET_IN_URL not in str(caught.value)
        assert "127.0.0.1:9" in str(caught.value)
    assert SECRET_IN_URL not in store.description
    assert store.description == "Git remote https://127.0.0.1:9/acme/metaboost.git"


async def test_git_runs_in_c_locale_whatever_the_caller_uses(git_repos: GitRepos, monkeypatch):
    # A German locale (if installed) would translate "already exists".
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    sha = git_repos.commit()
    store = store_for(git_repos)
    await store.create_tag("1.0.0", sha)
    assert await store.create_tag("1.0.0", git_repos.commit()) is TagCreate.EXISTS


def test_option_like_remote_is_refused():
    with pytest.raises(ConfigError, match="not a Git remote"):
        GitRemoteTagStore("--upload-pack=evil")


def test_local_repo_defaults_to_the_working_directory(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert GitRemoteTagStore("origin").local_repo == Path(os.getcwd()).resolve()


def _flaky_remote(git_repos: GitRepos, tmp_path: Path, *, lands: bool) -> str:
    """A remote named ``flaky`` whose receive-pack hangs up without a verdict.

    With ``lands`` it first writes the pushed ref itself (the push landed, the
    answer was lost); without, it writes nothing (the push never arrived).
    """
    script = tmp_path / "flaky-receive-pack"
    update = (
        # The tag and commit come from the test's environment: simpler than
        # speaking the receive-pack protocol, and the ref update is real.
        'git --git-dir="$1" update-ref "refs/tags/$FLAKY_TAG" "$FLAKY_SHA" ""\n' if lands else ""
    )
    script.write_text(f"#!/bin/sh\n{update}echo 'connection reset by peer' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    git_repos.git("remote", "add", "flaky", str(git_repos.bare))
    git_repos.git("config", "remote.flaky.receivepack", str(script))
    return "flaky"


async def test_push_without_verdict_that_landed_reads_back_created(
    git_repos: GitRepos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    sha = git_repos.commit()
    monkeypatch.setenv("FLAKY_TAG", "3.0.0-staging.0")
    monkeypatch.setenv("FLAKY_SHA", sha)
    remote = _flaky_remote(git_repos, tmp_path, lands=True)
    store = GitRemoteTagStore(remote, local_repo=git_repos.work)
    assert await store.create_tag("3.0.0-staging.0", sha) is TagCreate.CREATED
    assert git_repos.remote_tag("3.0.0-staging.0") == sha


async def test_push_without_verdict_that_did_not_land_is_an_error(
    git_repos: GitRepos, tmp_path: Path
):
    async def no_wait(_: float) -> None:
        return None

    sha = git_repos.commit()
    remote = _flaky_remote(git_repos, tmp_path, lands=False)
    progress = RecordingProgress()
    store = GitRemoteTagStore(
        remote,
        local_repo=git_repos.work,
        policy=RetryPolicy(attempts=2, sleep=no_wait),
        progress=progress,
    )
    with pytest.raises(RemoteError, match="git push"):
        await store.create_tag("3.0.0-staging.1", sha)
    assert git_repos.remote_tag("3.0.0-staging.1") is None
    # The one wait between the two pushes was announced, not silent.
    assert len(progress.lines) == 1
    assert progress.lines[0].startswith("git push of 3.0.0-staging.1 to flaky gave no verdict")
    assert "retry 1 of 1 in " in progress.lines[0]
