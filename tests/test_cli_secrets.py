"""Secrets in what the command line sends out: every line on stdout and stderr
(progress included), and every text that reaches GitHub.

Against the real registry, real Git (an scp-like remote through git's own ssh
code path, served locally by tests/support/gitrepo.ssh_standin) and the GitHub
emulator, which records each request body.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.support.gitrepo import ssh_standin
from tests.support.release import WorldFactory, run_cli

BASE = "1.4.0"


def test_a_token_in_an_scp_like_remote_leaves_in_no_line(
    world_factory: WorldFactory, tmp_path: Path
) -> None:
    world = world_factory("git")
    token = f"ghp_{secrets.token_hex(16)}"
    env = {**world.env(), **ssh_standin(tmp_path, world.bare.parent)}
    commit = world.commit()

    def reserve(remote: str, *extra: str) -> tuple[int, str]:
        options = ["--registry", world.via.url, "--git-remote", remote, *extra]
        result = run_cli(
            [*options, "reserve", "--commit", commit, "--base-version", BASE],
            env=env,
            cwd=world.work,
        )
        return result.code, result.all_output

    for extra in ((), ("--json",)):
        code, output = reserve(f"{token}@fakehost:{world.bare.name}", *extra)
        assert code == 0, output
        assert token not in output
        assert f"Git remote fakehost:{world.bare.name}" in output  # still named, without it
    # Both reservations went through the scp-like remote.
    assert {f"{BASE}-staging.0", f"{BASE}-staging.1"} <= set(world.git_tags())

    # A failure quotes git's own message about the remote: masked there too.
    code, output = reserve(f"{token}@fakehost:absent.git", "--json")
    assert code == 1
    assert "absent.git" in output
    assert token not in output
