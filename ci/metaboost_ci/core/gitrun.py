"""``run_git``: the one way the release pipeline runs git.

Asynchronous (a flow never blocks its event loop on a subprocess), without a
shell, in the C locale (messages are matched on), never prompting for a
password nobody will type. Callers word their own failures: a tag store as a
remote's refusal, bump-version as a local command's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import anyio

from .errors import ConfigError

_ENV = {"LC_ALL": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0"}


@dataclass(frozen=True)
class GitResult:
    returncode: int
    # The bytes as git wrote them (a blob); ``stdout`` is their text.
    output: bytes
    stderr: str

    @property
    def stdout(self) -> str:
        return self.output.decode("utf-8", "replace")


async def run_git(*args: str, cwd: Path | None = None) -> GitResult:
    """``git ARGS`` in ``cwd`` (a caller bounds its time with ``anyio.fail_after``)."""
    env = {**os.environ, **_ENV}
    try:
        done = await anyio.run_process(["git", *args], cwd=cwd, env=env, check=False)
    except FileNotFoundError:
        if cwd is not None and not await anyio.Path(cwd).is_dir():
            raise ConfigError(
                f"{cwd} is not a directory, so git cannot run in it.",
                fix="Check the path you gave.",
            ) from None
        raise ConfigError("git is not installed or not on PATH.", fix="Install git.") from None
    return GitResult(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))
