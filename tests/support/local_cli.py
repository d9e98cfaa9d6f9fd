"""The tools container's ``metaboost-ci`` commands, run here as real processes.

Every release operation of the module is a ``metaboost-ci ... --json``
command in the tools container (``engine.tools``). With no engine, the tests
run that exact command line here, in the real ``metaboost-ci`` entry point,
against real parts (docker-registry, bare Git remotes, the GitHub emulator),
with only the container's addresses swapped for the test's (``swap``):

- ``LocalCli``: a ``tools.CommandRunner`` that runs each command as a process
  (for ``CliOps`` driven directly, as in the real-image release tests);
- ``run_exec``: what the stand-in answers for a ``metaboost-ci`` exec of a
  real ``tools.Cli``: the argv of the chain's last ``withExec``, the
  environment its ``withEnvVariable`` and ``withSecretVariable`` calls leave
  (secrets resolved to what ``dag.set_secret`` stored), and on a non-zero exit
  an ``ExecFailure`` (the SDK raises ``dagger.ExecError``), so ``Cli.run``'s
  own error path runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from metaboost_ci.engine.tools import CliTarget, command_failure
from tests.support.dagger_offline import Call, ExecFailure, StandInSession, args_of, execs

CLI = str(Path(sys.executable).with_name("metaboost-ci"))
# What the tools container's environment does not have unless a function passes it.
NOT_PASSED = (
    "GHCR_REGISTRY_TOKEN",
    "REGISTRY_USERNAME",
    "GITHUB_TOKEN",
    "GITHUB_ACTOR",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in NOT_PASSED}
    return {**env, **(extra or {})}


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str


def run_cli(argv: list[str], *, cwd: Path, env: dict[str, str]) -> CliRun:
    """``metaboost-ci ARGV`` (argv[0] is ``metaboost-ci``) as a process here."""
    assert argv[0] == "metaboost-ci", argv
    done = subprocess.run(
        [CLI, *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


@dataclass
class LocalCli:
    """``tools.Cli``'s commands as local processes: same argv, addresses swapped."""

    target: CliTarget
    swap: dict[str, str]
    cwd: Path
    env: dict[str, str] = field(default_factory=lambda: clean_env())
    commands: list[list[str]] = field(default_factory=lambda: [])

    def argv(self, *args: str) -> list[str]:
        return ["metaboost-ci", *(self.swap.get(a, a) for a in [*self.target.global_args(), *args])]

    def invoke(self, *args: str) -> CliRun:
        """Run one command; its exit code and output, whatever they are."""
        return run_cli(self.argv(*args), cwd=self.cwd, env=self.env)

    async def run(self, *args: str) -> dict[str, Any]:
        """As ``Cli.run``: the JSON document, or the command line's error raised again."""
        self.commands.append(list(args))
        done = self.invoke(*args)
        if done.code != 0:
            raise command_failure(args[0], done.code, done.out, done.err)
        return cast(dict[str, Any], json.loads(done.out))


def chain_env(session: StandInSession, calls: list[Call]) -> dict[str, str]:
    """The environment a chain's ``withEnvVariable``/``withSecretVariable`` calls leave."""
    env: dict[str, str] = {}
    for call in calls:
        if call.field == "withEnvVariable" and not call.args.get("expand"):
            # (An expanded one, PATH, is the container's, not the process's.)
            env[call.args["name"]] = call.args["value"]
        elif call.field == "withSecretVariable":
            [stored] = args_of(session.origin(call.args["secret"]), "setSecret")
            env[call.args["name"]] = stored["plaintext"]
    return env


def run_exec(
    session: StandInSession,
    calls: list[Call],
    *,
    swap: dict[str, str],
    cwd: Path,
    seen: list[list[str]] | None = None,
) -> str:
    """Answer ``Container.stdout`` of a ``metaboost-ci`` exec by running it here."""
    argv = [swap.get(a, a) for a in execs(calls)[-1]]
    if seen is not None:
        seen.append(argv)
    done = run_cli(argv, cwd=cwd, env=clean_env(chain_env(session, calls)))
    if done.code != 0:
        raise ExecFailure(argv, done.code, done.out, done.err)
    return done.out
