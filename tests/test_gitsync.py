"""Branch syncs against real Git: a bare repository as the remote, real clones.

Every refusal must leave the clone and the remote exactly as they were:
refs, checked-out branch, index, work tree files.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from metaboost_ci.core.errors import CheckFailed, ConfigError, InputError
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.devtools.gitsync import (
    Git,
    GitCommandError,
    SyncResult,
    npm_audit_hook,
    sync_branches,
)
from tests.support.branches import BranchRepos


def never(_: list[str]) -> bool:
    raise AssertionError("must not ask")


async def sync(repos: BranchRepos, source: str, target: str, **kwargs: object) -> SyncResult:
    kwargs.setdefault("confirm_untracked", never)
    return await sync_branches(repos.work, source, target, **kwargs)  # type: ignore[arg-type]


# --- success --------------------------------------------------------------


async def test_develop_to_staging_fast_forwards_pushes_and_returns(
    branch_repos: BranchRepos,
) -> None:
    r = branch_repos
    develop = r.remote_sha("develop")
    staging_before = r.remote_sha("staging")
    progress = RecordingProgress()

    result = await sync(r, "develop", "staging", progress=progress)

    assert result.status == "fast-forwarded"
    assert (result.source_commit, result.target_before, result.target_after) == (
        develop,
        staging_before,
        develop,
    )
    assert [c.split(" ", 1)[1] for c in result.commits] == ["feature two", "feature one"]
    assert r.remote_sha("staging") == develop
    assert r.local_sha("staging") == develop
    assert r.git("rev-parse", "refs/remotes/origin/staging") == develop
    assert r.remote_sha("main") != develop  # untouched
    assert r.current() == "main"
    assert result.returned_to == "main"
    assert r.git("status", "--porcelain") == ""
    assert any("pushing staging" in line for line in progress.lines)


async def test_staging_to_main(branch_repos: BranchRepos) -> None:
    r = branch_repos
    r.git("checkout", "-q", "develop")
    staging = r.remote_sha("staging")
    result = await sync(r, "staging", "main")
    assert result.status == "fast-forwarded"
    assert r.remote_sha("main") == staging
    assert r.local_sha("main") == staging
    assert r.current() == "develop"


async def test_already_equal_is_a_no_op(branch_repos: BranchRepos) -> None:
    r = branch_repos
    await sync(r, "develop", "staging")
    before = r.snapshot()
    result = await sync(r, "develop", "staging", audit=fail_if_called)
    assert result.status == "already in sync"
    assert result.commits == []
    assert r.snapshot() == before


async def fail_if_called(git: Git, commit: str) -> str:
    raise AssertionError("the audit must not run when nothing moves")


async def test_local_branches_behind_their_remote_are_fast_forwarded_first(
    branch_repos: BranchRepos,
) -> None:
    r = branch_repos
    r.pull_other()
    newer = r.commit("develop", "pushed by a colleague", cwd=r.other)
    r.git("checkout", "-q", "develop")  # the current branch is fast-forwarded too

    result = await sync(r, "develop", "staging")

    assert result.local_fast_forwards == {"develop": newer}
    assert r.local_sha("develop") == newer
    assert r.remote_sha("staging") == newer
    assert result.commits[0].endswith("pushed by a colleague")
    assert r.current() == "develop"
    assert (r.work / "develop.txt").read_text().endswith("pushed by a colleague\n")


async def test_untracked_files_with_confirmation_go_ahead(branch_repos: BranchRepos) -> None:
    r = branch_repos
    (r.work / "notes.txt").write_text("mine\n")
    asked: list[list[str]] = []

    def confirm(paths: list[str]) -> bool:
        asked.append(paths)
        return True

    result = await sync(r, "develop", "staging", confirm_untracked=confirm)
    assert asked == [["notes.txt"]]
    assert result.status == "fast-forwarded"
    assert (r.work / "notes.txt").read_text() == "mine\n"


async def test_detached_head_is_restored(branch_repos: BranchRepos) -> None:
    r = branch_repos
    head = r.remote_sha("main")
    r.git("checkout", "-q", "--detach", head)
    await sync(r, "develop", "staging")
    assert r.git("symbolic-ref", "-q", "HEAD", check=False) == ""
    assert r.git("rev-parse", "HEAD") == head


async def test_audit_hook_sees_the_source_commit(branch_repos: BranchRepos) -> None:
    r = branch_repos
    seen: list[str] = []

    async def audit(git: Git, commit: str) -> str:
        seen.append(commit)
        return "audit ok"

    result = await sync(r, "develop", "staging", audit=audit)
    assert seen == [r.remote_sha("develop")]
    assert result.audit == "audit ok"


# --- refusals: nothing changes --------------------------------------------


async def refused(
    r: BranchRepos, error: type[Exception], match: str, *args: str, **kw: object
) -> str:
    before = r.snapshot()
    with pytest.raises(error, match=match) as info:
        await sync(r, *args, **kw)  # type: ignore[arg-type]
    assert r.snapshot() == before
    return str(info.value)


async def test_develop_to_main_is_refused(branch_repos: BranchRepos) -> None:
    text = await refused(branch_repos, InputError, "only advances from staging", "develop", "main")
    assert "sync develop staging" in text


async def test_unknown_pairs_are_refused(branch_repos: BranchRepos) -> None:
    await refused(branch_repos, InputError, "no sync from staging to develop", "staging", "develop")


async def test_dirty_tree_is_refused(branch_repos: BranchRepos) -> None:
    r = branch_repos
    (r.work / "package.json").write_text("{}\n")
    text = await refused(r, CheckFailed, "uncommitted changes", "develop", "staging")
    assert "package.json" in text


async def test_staged_change_is_refused(branch_repos: BranchRepos) -> None:
    r = branch_repos
    (r.work / "new.txt").write_text("x\n")
    r.git("add", "new.txt")
    await refused(r, CheckFailed, "uncommitted changes", "develop", "staging")


async def test_untracked_files_without_confirmation_are_refused(branch_repos: BranchRepos) -> None:
    r = branch_repos
    (r.work / "scratch.txt").write_text("x\n")
    text = await refused(
        r, CheckFailed, "not confirmed", "develop", "staging", confirm_untracked=lambda _: False
    )
    assert "scratch.txt" in text
    assert "--yes" in text


async def test_missing_local_branch_is_refused(branch_repos: BranchRepos) -> None:
    r = branch_repos
    r.git("branch", "-D", "-q", "staging")
    text = await refused(r, CheckFailed, "Local branch.*missing: staging", "develop", "staging")
    assert "git branch --track staging origin/staging" in text


async def test_missing_remote_branch_is_refused(branch_repos: BranchRepos) -> None:
    r = branch_repos
    r.git("push", "-q", "origin", "--delete", "staging")
    await refused(r, CheckFailed, "missing on origin: staging", "develop", "staging")


async def test_diverged_target_lists_the_commits_in_the_way(branch_repos: BranchRepos) -> None:
    r = branch_repos
    r.pull_other()
    r.commit("staging", "hotfix made on staging", cwd=r.other)
    # The sync fetches the hotfix to find it, yet refs/remotes/origin/staging
    # stays where it was (the snapshot compares every ref).
    text = await refused(r, CheckFailed, "cannot be fast-forwarded", "develop", "staging")
    assert "hotfix made on staging" in text


async def test_refusal_after_a_colleague_pushed_moves_no_remote_tracking_ref(
    branch_repos: BranchRepos,
) -> None:
    r = branch_repos
    r.pull_other()
    r.commit("develop", "pushed by a colleague", cwd=r.other)

    async def audit(git: Git, commit: str) -> str:
        raise CheckFailed("npm audit found 1 advisory(ies)", ["GHSA-x high in y: z"])

    await refused(r, CheckFailed, "npm audit", "develop", "staging", audit=audit)
    assert r.git("for-each-ref", "refs/metaboost-ci") == ""  # no scratch ref left behind


async def test_local_commits_not_on_the_remote_are_refused(branch_repos: BranchRepos) -> None:
    r = branch_repos
    r.commit("develop", "not pushed yet", push=False)
    text = await refused(r, CheckFailed, "Local develop has commits", "develop", "staging")
    assert "not pushed yet" in text


async def test_failed_audit_stops_before_any_change(branch_repos: BranchRepos) -> None:
    async def audit(git: Git, commit: str) -> str:
        raise CheckFailed("npm audit found 1 advisory(ies)", ["GHSA-x high in y: z"])

    await refused(branch_repos, CheckFailed, "npm audit", "develop", "staging", audit=audit)


async def test_not_a_repository_or_unknown_remote(
    branch_repos: BranchRepos, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="not inside a Git work tree"):
        await sync_branches(tmp_path / "nowhere", "develop", "staging", confirm_untracked=never)
    await refused(
        branch_repos, ConfigError, "no Git remote named 'upstream'", "develop", "staging",
        remote="upstream",
    )  # fmt: skip


# --- failure after changes began: back on the original branch --------------


def refuse_pushes(r: BranchRepos, message: str) -> None:
    """A pre-receive hook on the bare remote that refuses every push, saying ``message``."""
    hook = r.bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


async def test_rejected_push_still_returns_to_the_original_branch(
    branch_repos: BranchRepos,
) -> None:
    r = branch_repos
    refuse_pushes(r, "staging is protected")
    before = r.snapshot()

    with pytest.raises(GitCommandError, match="staging is protected") as info:
        await sync(r, "develop", "staging")

    assert "local staging was put back" in str(info.value)
    assert r.current() == "main"
    # The remote refused: the clone is as it was, local staging included.
    assert r.snapshot() == before


async def test_rejected_push_from_the_target_branch_puts_it_and_its_files_back(
    branch_repos: BranchRepos,
) -> None:
    r = branch_repos
    refuse_pushes(r, "no")
    r.git("checkout", "-q", "staging")
    before = r.snapshot()

    with pytest.raises(GitCommandError, match="put back"):
        await sync(r, "develop", "staging")

    assert r.current() == "staging"
    assert not (r.work / "develop.txt").exists()
    assert r.snapshot() == before


# --- the npm audit hook over a commit's files --------------------------------


def fake_npm(tmp_path: Path, report: dict[str, object], exit_code: int) -> str:
    """A stand-in for npm that checks its arguments and prints a canned audit report."""
    script = tmp_path / "npm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "expected = ['audit', '--omit=dev', '--audit-level=moderate', '--json']\n"
        "assert sys.argv[1:] == expected, sys.argv\n"
        "assert os.path.exists('package-lock.json'), 'no lockfile in ' + os.getcwd()\n"
        f"print(json.dumps({report!r}))\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return str(script)


REPORT = {
    "auditReportVersion": 2,
    "vulnerabilities": {
        "minimist": {
            "name": "minimist",
            "severity": "critical",
            "via": [
                {
                    "source": 1096471,
                    "name": "minimist",
                    "title": "Prototype Pollution in minimist",
                    "url": "https://github.com/advisories/GHSA-xvch-5gv4-984h",
                    "severity": "critical",
                }
            ],
        },
        "mkdirp": {"name": "mkdirp", "severity": "critical", "via": ["minimist"]},
        "semver": {
            "name": "semver",
            "severity": "moderate",
            "via": [
                {
                    "source": 1101088,
                    "name": "semver",
                    "title": "semver vulnerable to Regular Expression Denial of Service",
                    "url": "https://github.com/advisories/GHSA-c2qf-rxjj-qqgw",
                    "severity": "moderate",
                }
            ],
        },
        "debug": {
            "name": "debug",
            "severity": "low",
            "via": [{"source": 1, "name": "debug", "title": "low", "severity": "low"}],
        },
    },
}


def commit_package(r: BranchRepos, allowlist: list[str]) -> str:
    r.git("checkout", "-q", "develop")
    package = {
        "name": "metaboost",
        "version": "0.1.0",
        "metaboost-ci": {"auditAllowlist": allowlist},
    }
    (r.work / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    (r.work / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    r.git("add", "package.json", "package-lock.json")
    r.git("commit", "-q", "-m", "allowlist")
    r.git("checkout", "-q", "main")
    return r.local_sha("develop")


async def test_npm_audit_hook_blocks_advisories_not_allowlisted(
    branch_repos: BranchRepos, tmp_path: Path
) -> None:
    commit = commit_package(branch_repos, ["GHSA-xvch-5gv4-984h"])
    hook = npm_audit_hook(fake_npm(tmp_path, REPORT, 1))
    with pytest.raises(CheckFailed, match="1 advisory") as info:
        await hook(Git(branch_repos.work), commit)
    assert "GHSA-c2qf-rxjj-qqgw moderate in semver" in str(info.value)
    assert "minimist" not in str(info.value)


async def test_npm_audit_hook_passes_when_everything_is_allowlisted(
    branch_repos: BranchRepos, tmp_path: Path
) -> None:
    commit = commit_package(branch_repos, ["GHSA-xvch-5gv4-984h", "1101088"])
    note = await npm_audit_hook(fake_npm(tmp_path, REPORT, 1))(Git(branch_repos.work), commit)
    assert "GHSA-c2qf-rxjj-qqgw" in note
    assert "GHSA-xvch-5gv4-984h" in note


async def test_npm_audit_hook_reports_npm_errors_and_missing_npm(
    branch_repos: BranchRepos, tmp_path: Path
) -> None:
    commit = commit_package(branch_repos, [])
    error = {"error": {"code": "ENOAUDIT", "summary": "registry unreachable"}}
    with pytest.raises(CheckFailed, match="registry unreachable"):
        await npm_audit_hook(fake_npm(tmp_path, error, 1))(Git(branch_repos.work), commit)
    note = await npm_audit_hook(None)(Git(branch_repos.work), commit)
    assert "npm is not installed" in note
