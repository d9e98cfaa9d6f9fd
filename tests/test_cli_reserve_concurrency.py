"""Eight ``metaboost-ci reserve`` processes at once on one base, with each store:
eight distinct, contiguous N, each Git tag at its own process's commit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.release import ReleaseWorld, WorldFactory

BASE = "6.0.0"
PROCESSES = 8
# Each process imports everything, then waits for the start file, so all eight
# reach the tag store together (a condition, not a sleep, decides the start).
LAUNCHER = """
import os, sys, time
from metaboost_ci.cli.main import main
go = sys.argv[1]
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("start file never appeared")
    time.sleep(0.002)
sys.exit(main(sys.argv[2:]))
"""


def reserve_concurrently(world: ReleaseWorld, tmp_path: Path) -> list[dict[str, object]]:
    commits = [world.commit(f"push {i}") for i in range(PROCESSES)]
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCHER,
                str(go),
                *world.cli_options(),
                "--json",
                "reserve",
                "--commit",
                commit,
                "--base-version",
                BASE,
            ],
            cwd=world.work,
            env=world.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for commit in commits
    ]
    try:
        go.touch()
        results = [p.communicate(timeout=120) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    reservations: list[dict[str, object]] = []
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        reservations.append(json.loads(out))
    for commit, reservation in zip(commits, reservations, strict=True):
        assert reservation["commit"] == commit
    return reservations


@pytest.mark.parametrize("store", ["github", "git"])
def test_eight_processes_get_eight_contiguous_numbers(
    store: str, world_factory: WorldFactory, tmp_path: Path
) -> None:
    world = world_factory(store)
    reservations = reserve_concurrently(world, tmp_path)
    numbers = sorted(int(str(r["n"])) for r in reservations)
    assert numbers == list(range(PROCESSES))
    tags = world.git_tags()
    assert len(tags) == PROCESSES
    for reservation in reservations:
        assert tags[str(reservation["version"])] == reservation["commit"]
    attempts = sum(int(str(r["attempts"])) for r in reservations)
    # At least one create each; each loss costs one more.
    assert attempts >= PROCESSES
    if store == "github":
        assert len(world.github.requests_for("POST", "/git/refs")) == attempts
