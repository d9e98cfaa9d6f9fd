"""Engine tests: they drive the real `dagger` CLI against a real engine.

Run them with `.venv/bin/pytest -m engine` on a machine with Docker (or
another container runtime Dagger supports) and the dagger CLI v0.21.11 on
PATH. Without a reachable engine every test here is skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGGER_VERSION = "0.21.11"
# First contact may pull and start the engine container.
PROBE_TIMEOUT = 300


@dataclass(frozen=True)
class DaggerCli:
    path: str

    def call(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        """`dagger call -m REPO ARGS` in the repository; fails the test on a non-zero exit."""
        return self.run(["call", "-m", str(REPO), *args], timeout=timeout)

    def run(self, args: Sequence[str], timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        done = self.attempt(args, timeout=timeout)
        if done.returncode != 0:
            pytest.fail(
                f"dagger {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}",
                pytrace=False,
            )
        return done

    def attempt(
        self, args: Sequence[str], timeout: float = 3600
    ) -> subprocess.CompletedProcess[str]:
        """`dagger --progress=plain ARGS` in the repository, whatever its exit code."""
        return subprocess.run(
            [self.path, "--progress=plain", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def engine_unreachable_reason() -> str | None:
    """Why no engine can be used here, or None when one answered."""
    path = shutil.which("dagger")
    if path is None:
        port = os.environ.get("DAGGER_SESSION_PORT")
        hint = f" (DAGGER_SESSION_PORT={port} is set, but the tests drive the CLI)" if port else ""
        return f"no dagger CLI on PATH{hint}; install dagger v{DAGGER_VERSION} and Docker"
    try:
        # From a directory without dagger.json, so no module is loaded for the probe.
        probe = subprocess.run(
            [path, "query"],
            input="{ version }",
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"`dagger query {{ version }}` did not answer within {PROBE_TIMEOUT}s"
    if probe.returncode != 0:
        tail = (probe.stderr or probe.stdout).strip().splitlines()[-3:]
        return "the Dagger engine is not reachable: " + " | ".join(tail)
    return None


@pytest.fixture(scope="session")
def dagger_cli() -> DaggerCli:
    reason = engine_unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    path = shutil.which("dagger")
    assert path is not None
    return DaggerCli(path)
