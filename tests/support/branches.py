"""A monorepo clone with develop, staging and main, and a bare repository as its remote.

For the sync and bump-version tests: real git everywhere. ``snapshot`` records
everything a refusal must leave alone (every ref in the clone and the remote,
the checked-out branch, the index and work tree status, file contents).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.gitrepo import GIT_ENV, run_git

BRANCHES = ("main", "staging", "develop")


@dataclass
class BranchRepos:
    root: Path
    bare: Path
    work: Path  # the maintainer's clone: where the commands run
    other: Path  # a colleague's clone: moves the remote behind our back

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        return run_git(*args, cwd=cwd or self.work, check=check)

    def commit(
        self, branch: str, message: str, *, cwd: Path | None = None, push: bool = True
    ) -> str:
        """A commit on ``branch`` in ``cwd`` (our clone by default), pushed unless told not to."""
        where = cwd or self.work
        current = self.git("symbolic-ref", "--short", "HEAD", cwd=where)
        self.git("checkout", "-q", branch, cwd=where)
        path = where / f"{branch}.txt"
        path.write_text(path.read_text() + message + "\n" if path.exists() else message + "\n")
        self.git("add", path.name, cwd=where)
        self.git("commit", "-q", "-m", message, cwd=where)
        sha = self.git("rev-parse", "HEAD", cwd=where)
        if push:
            self.git("push", "-q", "origin", branch, cwd=where)
        self.git("checkout", "-q", current, cwd=where)
        return sha

    def pull_other(self) -> None:
        for branch in BRANCHES:
            self.git("checkout", "-q", branch, cwd=self.other)
            self.git("merge", "-q", "--ff-only", f"origin/{branch}", cwd=self.other)

    def remote_sha(self, branch: str) -> str:
        return self.git("rev-parse", f"refs/heads/{branch}", cwd=self.bare)

    def local_sha(self, branch: str) -> str:
        return self.git("rev-parse", f"refs/heads/{branch}")

    def current(self) -> str:
        return self.git("symbolic-ref", "--short", "HEAD")

    def snapshot(self) -> dict[str, object]:
        """Everything that must be identical before and after a refusal."""
        files = {
            str(p.relative_to(self.work)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.work.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(self.work).parts
        }
        return {
            "refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
            "head": self.git("symbolic-ref", "-q", "HEAD", check=False)
            or self.git("rev-parse", "HEAD"),
            "status": self.git("status", "--porcelain=v1", "--untracked-files=all"),
            "files": files,
            "remote": self.git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.bare),
        }


def make_branch_repos(root: Path) -> BranchRepos:
    """develop two commits ahead of staging, staging one ahead of main; all pushed."""
    bare = root / "monorepo.git"
    work = root / "work"
    other = root / "other"
    root.mkdir(parents=True, exist_ok=True)
    run_git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    run_git("init", "-q", "-b", "main", str(work), cwd=root)
    run_git("remote", "add", "origin", str(bare), cwd=work)
    (work / "package.json").write_text('{\n  "name": "metaboost",\n  "version": "0.1.0"\n}\n')
    (work / ".gitignore").write_text("ignored/\n")
    run_git("add", "package.json", ".gitignore", cwd=work)
    run_git("commit", "-q", "-m", "initial", cwd=work)
    run_git("push", "-q", "origin", "main", cwd=work)
    for branch in ("staging", "develop"):
        run_git("branch", branch, cwd=work)
        run_git("push", "-q", "-u", "origin", branch, cwd=work)
    run_git("branch", "--set-upstream-to=origin/main", "main", cwd=work)
    repos = BranchRepos(root=root, bare=bare, work=work, other=other)
    repos.commit("staging", "staged feature")
    repos.git("checkout", "-q", "develop")
    repos.git("merge", "-q", "--ff-only", "staging")
    repos.git("push", "-q", "origin", "develop")
    repos.git("checkout", "-q", "main")
    repos.commit("develop", "feature one")
    repos.commit("develop", "feature two")
    run_git("clone", "-q", str(bare), str(other), cwd=root)
    for branch in ("staging", "develop"):
        run_git("branch", "-q", "--track", branch, f"origin/{branch}", cwd=other)
    return repos


@pytest.fixture
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code under test runs git with os.environ: give it the fixed test identity."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def _branch_repos_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built once (about 40 git commands), copied for each test.
    # Every git command here runs with gitrepo's git_env(): no identity to patch in.
    root = tmp_path_factory.mktemp("branch-template") / "repos"
    make_branch_repos(root)
    return root


@pytest.fixture
def branch_repos(tmp_path: Path, git_identity: None, _branch_repos_template: Path) -> BranchRepos:
    root = tmp_path / "repos"
    shutil.copytree(_branch_repos_template, root, symlinks=True)
    repos = BranchRepos(
        root=root, bare=root / "monorepo.git", work=root / "work", other=root / "other"
    )
    repos.git("remote", "set-url", "origin", str(repos.bare))
    repos.git("remote", "set-url", "origin", str(repos.bare), cwd=repos.other)
    return repos
