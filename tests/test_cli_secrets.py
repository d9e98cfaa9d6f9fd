"""Secrets in what the command line sends out: every line on stdout and stderr
(progress included), and every text that reaches GitHub.

Against the real registry, real Git (an scp-like remote through git's own ssh
code path, served locally by tests/support/gitrepo.ssh_standin) and the GitHub
emulator, which records each request body.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from metaboost_ci.core.flows import fallback_notes
from tests.support.gitrepo import ssh_standin
from tests.support.release import ReleaseWorld, WorldFactory, run_cli

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


# -- release notes ------------------------------------------------------------------

CHANGELOG = f"docs/development/CHANGELOGS/{BASE}.md"
TAG = f"{BASE}-staging.0"


def env_file_with(tmp_path: Path, env: dict[str, str]) -> Path:
    """A file outside the repository holding the process's secrets, as a .env would."""
    outside = tmp_path / "outside" / "secrets.env"
    outside.parent.mkdir(exist_ok=True)
    outside.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
    return outside


def link_to_secrets(source: Path, outside: Path) -> None:
    (source / CHANGELOG).symlink_to(outside)


def directory_link_to_secrets(source: Path, outside: Path) -> None:
    # docs/development -> a directory elsewhere whose CHANGELOGS/1.4.0.md is the secrets.
    elsewhere = outside.parent / "development"
    (elsewhere / "CHANGELOGS").mkdir(parents=True)
    (elsewhere / "CHANGELOGS" / f"{BASE}.md").write_text(outside.read_text())
    shutil.rmtree(source / "docs" / "development")
    (source / "docs" / "development").symlink_to(elsewhere, target_is_directory=True)


def hard_link_to_secrets(source: Path, outside: Path) -> None:
    os.link(outside, source / CHANGELOG)


def oversized(source: Path, outside: Path) -> None:
    (source / CHANGELOG).write_text("# 1.4.0\n" + "- a change\n" * 20_000 + outside.read_text())


def not_utf8(source: Path, outside: Path) -> None:
    (source / CHANGELOG).write_bytes(b"# 1.4.0\n\xff\xfe\n" + outside.read_bytes())


BAD_CHANGELOGS = {
    "a symbolic link to a file outside": (link_to_secrets, "it is a symbolic link"),
    "under a linked directory": (directory_link_to_secrets, "development is a symbolic link"),
    "a hard link to a file outside": (hard_link_to_secrets, "other hard links"),
    "larger than the limit": (oversized, "larger than 125,000 bytes"),
    "not UTF-8": (not_utf8, "not valid UTF-8"),
}


def secrets_env(world: ReleaseWorld) -> dict[str, str]:
    env = world.env()
    # A registry password the process holds too (read, registered, never used here).
    env["GHCR_REGISTRY_TOKEN"] = f"regtok-{secrets.token_hex(12)}"
    return env


def sent_to_github(world: ReleaseWorld) -> str:
    return "\n".join(json.dumps(r.body) for r in world.github.requests if r.body is not None)


@pytest.mark.parametrize("command", ["release", "promote"])
@pytest.mark.parametrize("kind", list(BAD_CHANGELOGS))
def test_a_changelog_that_is_not_a_plain_file_of_the_repository_is_not_published(
    world_factory: WorldFactory, tmp_path: Path, kind: str, command: str
) -> None:
    world = world_factory()
    env = secrets_env(world)
    held = [env["GITHUB_TOKEN"], env["GHCR_REGISTRY_TOKEN"]]
    source = world.work
    (source / CHANGELOG).parent.mkdir(parents=True, exist_ok=True)
    make, why = BAD_CHANGELOGS[kind]
    make(source, env_file_with(tmp_path, env))
    commit = world.commit()
    if command == "release":
        args = ["release", "--tag", TAG, "--commit", commit, "--prerelease"]
    else:
        world.github.repos.remote_tag_create(TAG, commit)
        world.push_build(TAG, commit)
        args = ["promote", "--commit", commit, "--base-version", BASE]

    result = run_cli([*world.cli_options(), *args, "--source", str(source)], env=env, cwd=source)

    assert result.code == 0, result.all_output
    [published] = world.github.releases.values()
    assert published["body"] == fallback_notes(BASE, refused=True)
    assert f"Warning: {CHANGELOG}" in result.err
    assert why in result.err
    for secret in held:
        assert secret not in sent_to_github(world)
        assert secret not in result.all_output


def test_a_changelog_linked_to_proc_self_environ_is_not_published(
    world_factory: WorldFactory,
) -> None:
    """The adversarial run's case, in a process of its own (so /proc/self/environ
    holds the tokens; this process's environment is not the one being tested)."""
    world = world_factory()
    env = secrets_env(world)
    (world.work / CHANGELOG).parent.mkdir(parents=True, exist_ok=True)
    (world.work / CHANGELOG).symlink_to("/proc/self/environ")
    commit = world.commit()
    args = ["release", "--tag", TAG, "--commit", commit, "--prerelease", "--source", "."]
    done = subprocess.run(
        [sys.executable, "-m", "metaboost_ci.cli.main", *world.cli_options(), *args],
        env=env,
        cwd=world.work,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    [published] = world.github.releases.values()
    assert published["body"] == fallback_notes(BASE, refused=True)
    for secret in (env["GITHUB_TOKEN"], env["GHCR_REGISTRY_TOKEN"]):
        assert secret not in sent_to_github(world)
        assert secret not in done.stdout + done.stderr


def test_a_changelog_linked_in_the_commit_is_not_published(world_factory: WorldFactory) -> None:
    """Without --source the notes come from the commit's tree: a link there is refused too
    (git show would print the link's target as the release body)."""
    world = world_factory()
    (world.work / CHANGELOG).parent.mkdir(parents=True, exist_ok=True)
    (world.work / CHANGELOG).symlink_to("/proc/self/environ")
    world.github.repos.git("add", CHANGELOG)
    commit = world.commit()
    args = ["release", "--tag", TAG, "--commit", commit, "--prerelease"]

    result = run_cli([*world.cli_options(), *args], env=world.env(), cwd=world.work)

    assert result.code == 0, result.all_output
    [published] = world.github.releases.values()
    assert published["body"] == fallback_notes(BASE, refused=True)
    assert "it is a symbolic link" in result.err


def test_every_secret_is_masked_in_what_is_sent_to_github(world_factory: WorldFactory) -> None:
    """A plain changelog that holds a token (pasted by mistake) is published masked:
    the GitHub client redacts every request body, whatever it was made from."""
    world = world_factory()
    env = secrets_env(world)
    # Held by the process, never read as a credential: Actions sets it for every step.
    env["ACTIONS_RUNTIME_TOKEN"] = f"rt-{secrets.token_hex(12)}"
    pasted = (
        f"- set GITHUB_TOKEN={env['GITHUB_TOKEN']} and {env['GHCR_REGISTRY_TOKEN']}"
        f" ({env['ACTIONS_RUNTIME_TOKEN']})\n"
    )
    commit = world.commit_files({CHANGELOG: f"# {BASE}\n{pasted}"})
    args = ["release", "--tag", TAG, "--commit", commit, "--prerelease", "--source", "."]

    result = run_cli([*world.cli_options(), *args], env=env, cwd=world.work)
    assert result.code == 0, result.all_output
    [published] = world.github.releases.values()
    assert published["body"] == f"# {BASE}\n- set GITHUB_TOKEN=*** and *** (***)\n"
    for secret in (env["GITHUB_TOKEN"], env["GHCR_REGISTRY_TOKEN"], env["ACTIONS_RUNTIME_TOKEN"]):
        assert secret not in sent_to_github(world)

    # A re-run with --update compares with what GitHub holds (the masked body): no change.
    again = run_cli([*world.cli_options(), *args, "--update", "--json"], env=env, cwd=world.work)
    assert again.json()["action"] == "exists"
