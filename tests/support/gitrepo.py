"""Real Git repositories for tests: a bare "remote" and a working clone with commits.

Every git call here runs with a fixed identity and without the user's global
or system configuration, so tests behave the same on every machine.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DEFAULT_BRANCH = "main"

GIT_ENV: Mapping[str, str] = {
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Metaboost Test",
    "GIT_AUTHOR_EMAIL": "test@metaboost.invalid",
    "GIT_COMMITTER_NAME": "Metaboost Test",
    "GIT_COMMITTER_EMAIL": "test@metaboost.invalid",
}


def git_env() -> dict[str, str]:
    return {**os.environ, **GIT_ENV}


def git_in(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in ``cwd``; the whole result. Raises with git's stderr on failure."""
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def run_git(*args: str, cwd: Path, check: bool = True) -> str:
    """Run git in ``cwd``; return stdout stripped. Raises with git's stderr on failure."""
    return git_in(cwd, *args, check=check).stdout.strip()


@dataclass
class GitRepos:
    """A bare repository (the remote) and a clone of it (where commits are made)."""

    bare: Path
    work: Path
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def git(self, *args: str, check: bool = True) -> str:
        """Run git in the working clone."""
        return run_git(*args, cwd=self.work, check=check)

    def commit(self, message: str | None = None, *, push: bool = True) -> str:
        """Make a new commit (a file changes) on main; push it unless told not to."""
        n = next(self._counter)
        # Unique content: copies of the template start their counters afresh.
        (self.work / "counter.txt").write_text(f"{n} {uuid.uuid4()}\n")
        self.git("add", "counter.txt")
        self.git("commit", "-q", "-m", message or f"change {n}")
        if push:
            self.git("push", "-q", "origin", f"HEAD:refs/heads/{DEFAULT_BRANCH}")
        return self.git("rev-parse", "HEAD")

    def remote_tag_create(self, name: str, sha: str, *, message: str | None = None) -> str:
        """Tag ``sha`` directly in the bare repository (annotated with ``message``)."""
        if message is None:
            run_git("update-ref", f"refs/tags/{name}", sha, "", cwd=self.bare)
        else:
            run_git("tag", "-a", name, sha, "-m", message, cwd=self.bare)
        return run_git("rev-parse", f"refs/tags/{name}", cwd=self.bare)

    def tag(self, name: str, sha: str, *, message: str | None = None, push: bool = True) -> str:
        """Tag ``sha`` (annotated when ``message`` is given); return the ref's value."""
        if message is None:
            self.git("tag", name, sha)
        else:
            self.git("tag", "-a", name, sha, "-m", message)
        if push:
            self.git("push", "-q", "origin", f"refs/tags/{name}")
        return self.git("rev-parse", f"refs/tags/{name}")

    def remote_tag(self, name: str) -> str | None:
        """The value of ``refs/tags/<name>`` in the bare repository (unpeeled), or None."""
        ref = f"refs/tags/{name}"
        return run_git("rev-parse", "-q", "--verify", ref, cwd=self.bare, check=False) or None

    def remote_tags(self) -> dict[str, str]:
        """Every tag of the bare repository, peeled to its commit."""
        out = run_git(
            "for-each-ref",
            "--format=%(refname:strip=2) %(*objectname) %(objectname)",
            "refs/tags",
            cwd=self.bare,
        )
        tags: dict[str, str] = {}
        for line in out.splitlines():
            name, *shas = line.split()
            tags[name] = shas[0]  # %(*objectname) is empty for lightweight tags
        return tags


def init_repos(root: Path, name: str = "origin") -> GitRepos:
    """``root/<name>.git`` (bare, no commits yet) and ``root/<name>-work``, its clone."""
    root.mkdir(parents=True, exist_ok=True)
    bare = root / f"{name}.git"
    work = root / f"{name}-work"
    run_git("init", "-q", "--bare", "-b", DEFAULT_BRANCH, str(bare), cwd=root)
    run_git("init", "-q", "-b", DEFAULT_BRANCH, str(work), cwd=root)
    # Relative, so a copy of the pair works wherever it is put.
    run_git("remote", "add", "origin", f"../{bare.name}", cwd=work)
    return GitRepos(bare=bare, work=work)


def _build_repos(root: Path, name: str) -> GitRepos:
    repos = init_repos(root, name)
    repos.commit("initial commit")
    return repos


_templates: dict[str, Path] = {}


def make_repos(root: Path, name: str = "origin") -> GitRepos:
    """Create ``root/<name>.git`` (bare) and ``root/<name>-work`` with one pushed commit.

    The pair is built once per test process and copied (a few milliseconds)
    for every caller, instead of running git half a dozen times each.
    """
    template = _templates.get(name)
    if template is None:
        template = Path(tempfile.mkdtemp(prefix="metaboost-git-template-"))
        atexit.register(shutil.rmtree, template, ignore_errors=True)
        _build_repos(template, name)
        _templates[name] = template
    shutil.copytree(template, root, symlinks=True, dirs_exist_ok=True)
    return GitRepos(bare=root / f"{name}.git", work=root / f"{name}-work")


@pytest.fixture
def git_repos(tmp_path: Path) -> GitRepos:
    """A bare remote and a working clone with one commit on main, pushed."""
    return make_repos(tmp_path / "git")


_SSH_STANDIN = """#!/bin/sh
# ssh as git calls it: [-o OPTION | -p PORT | -FLAG]... [user@]host command.
# The "host" is this machine: the command (git-upload-pack 'path', ...) runs
# in $SSH_STANDIN_ROOT, so an scp-like remote host:path names a repository there.
while [ $# -gt 2 ]; do
    case "$1" in
        -o|-p) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
cd "$SSH_STANDIN_ROOT" && exec sh -c "$2"
"""


def ssh_standin(directory: Path, root: Path) -> dict[str, str]:
    """Environment that makes git's ssh transport serve ``root`` locally.

    No sshd runs here; with these variables ``USER@anyhost:NAME.git`` is the
    repository ``root/NAME.git``, reached through git's real ssh code path
    (scp-like parsing, upload-pack and receive-pack over a pipe).
    """
    script = directory / "ssh-standin"
    script.write_text(_SSH_STANDIN)
    script.chmod(0o755)
    return {"GIT_SSH_COMMAND": str(script), "GIT_SSH_VARIANT": "ssh", "SSH_STANDIN_ROOT": str(root)}
