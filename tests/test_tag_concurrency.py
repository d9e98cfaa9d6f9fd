"""Eight processes create the same tag at once: exactly one wins, through either store.

Each racer is a separate Python process (its own client, connection and event
loop). They import everything, say "ready", and block on stdin; the test
releases them together by writing to every stdin, so the creates overlap
without any sleep.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.github import GitHubEmulator
from tests.support.gitrepo import GitRepos

RACERS = 8
TAG = "4.0.0-staging.0"

RACER = """
import asyncio, os, sys
from pathlib import Path

kind, tag, sha = sys.argv[1:4]
# Import before saying ready, so the race starts with everything loaded.
if kind == "github":
    from metaboost_ci.core.github import GitHubClient, GitHubTagStore
else:
    from metaboost_ci.core.gitstore import GitRemoteTagStore

async def create():
    if kind == "github":
        async with GitHubClient(
            os.environ["RACE_REPOSITORY"],
            token=os.environ["RACE_TOKEN"],
            api_url=os.environ["RACE_API_URL"],
        ) as client:
            return await GitHubTagStore(client).create_tag(tag, sha)
    store = GitRemoteTagStore(os.environ["RACE_REMOTE"], local_repo=Path(os.environ["RACE_LOCAL"]))
    return await store.create_tag(tag, sha)

print("ready", flush=True)
sys.stdin.readline()
print(asyncio.run(create()).value, flush=True)
"""


def race(kind: str, shas: list[str], env: dict[str, str]) -> list[str]:
    """Run one racer per SHA, release them together, return each one's result."""
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, kind, TAG, sha],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        for sha in shas
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None
            ready = racer.stdout.readline()  # EOF ("") if the racer died
            if ready != "ready\n":
                _, err = racer.communicate(timeout=30)
                raise AssertionError(f"racer did not start: {err}")
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        results: list[str] = []
        for racer in racers:
            out, err = racer.communicate(timeout=120)
            assert racer.returncode == 0, err
            results.append(out.strip())
        return results
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()


def assert_one_winner(results: list[str], shas: list[str], tag_now: str | None) -> None:
    assert sorted(results) == ["created"] + ["exists"] * (RACERS - 1), results
    winner = shas[results.index("created")]
    assert tag_now == winner


def test_eight_processes_race_through_the_github_store(github_emulator: GitHubEmulator):
    shas = [github_emulator.commit() for _ in range(RACERS)]
    env = {
        "RACE_REPOSITORY": github_emulator.repository,
        "RACE_TOKEN": github_emulator.token,
        "RACE_API_URL": github_emulator.api_url,
    }

    results = race("github", shas, env)

    assert_one_winner(results, shas, github_emulator.tag_target(TAG))
    # Every racer asked GitHub to create the tag; the atomic create decided.
    posts = github_emulator.requests_for("POST", "/git/refs")
    assert sorted(p.status or 0 for p in posts) == [201] + [422] * (RACERS - 1)


def test_eight_processes_race_through_the_git_remote_store(git_repos: GitRepos):
    # Commits only the local clone has: each push also carries its commit.
    shas = [git_repos.commit(push=False) for _ in range(RACERS)]
    env = {"RACE_REMOTE": str(git_repos.bare), "RACE_LOCAL": str(git_repos.work)}

    results = race("git", shas, env)

    assert_one_winner(results, shas, git_repos.remote_tag(TAG))
    assert git_repos.remote_tags() == {TAG: git_repos.remote_tag(TAG)}
