"""validate: the seed's steps in order in node:24; a failure names its step and shows the tail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError

from metaboost_ci.core.errors import InputError
from metaboost_ci.engine.main import MetaboostCi
from metaboost_ci.engine.node import RUN_VARIABLE
from metaboost_ci.engine.validate import STEP_NAMES, STEPS, choose_steps, run_validate
from tests.support.dagger_offline import (
    Call,
    ExecFailure,
    StandInSession,
    args_of,
    env_before_last_exec,
    execs,
)

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
SEED_COMMANDS = [
    ["npm", "ci", "--include=optional"],
    ["npm", "audit", "--omit=dev", "--audit-level=moderate"],
    ["npm", "run", "build:packages"],
    ["npm", "run", "lint"],
    ["npm", "run", "type-check"],
    ["sh", "-c", "[ -f apps/web/.env.local ] || cp apps/web/.env.example apps/web/.env.local"],
    ["npm", "run", "build:apps"],
]


def test_the_default_steps_are_the_seeds_in_its_order() -> None:
    assert [list(step.command) for step in choose_steps(None)] == SEED_COMMANDS


def test_steps_can_be_chosen_and_ordered() -> None:
    assert [s.name for s in choose_steps(["lint", "install"])] == ["lint", "install"]
    with pytest.raises(InputError, match="Choose from: " + ", ".join(STEP_NAMES)):
        choose_steps(["lint", "tests"])
    with pytest.raises(InputError, match="twice"):
        choose_steps(["lint", "lint"])


async def test_every_step_runs_in_node_24_with_the_npm_cache(
    dagger_standin: StandInSession,
) -> None:
    passed = await run_validate(dag.directory(), list(STEPS), run_id="run-1")
    assert [line.split(":")[0] for line in passed] == [f"ok  {name}" for name in STEP_NAMES]
    synced = dagger_standin.leaves("Container.sync")
    # One evaluation per step, each on the state the previous one left; the
    # audit on a branch of its own (it changes nothing the next steps use).
    audit = SEED_COMMANDS[1]
    assert [execs(calls) for calls in synced] == [
        SEED_COMMANDS[: i + 1] if i < 2 else [c for c in SEED_COMMANDS[: i + 1] if c != audit]
        for i in range(7)
    ]
    last = synced[-1]
    assert args_of(last, "from") == [{"address": "node:24"}]
    assert args_of(last, "withMountedCache")[0]["path"] == "/root/.npm"
    assert args_of(last, "withWorkdir") == [{"path": "/src"}]


async def test_the_audit_exec_carries_this_runs_id_and_the_pure_steps_do_not(
    dagger_standin: StandInSession,
) -> None:
    """An unchanged lockfile must not get yesterday's audit: a new advisory has to block."""
    runs: list[dict[str, dict[str, str]]] = []
    for run_id in ("run-1", "run-2"):
        dagger_standin.queries.clear()
        await run_validate(dag.directory(), list(STEPS), run_id=run_id)
        runs.append(
            {
                " ".join(execs(calls)[-1]): env_before_last_exec(calls)
                for calls in dagger_standin.leaves("Container.sync")
            }
        )
    audit = " ".join(SEED_COMMANDS[1])
    assert [run[audit].get(RUN_VARIABLE) for run in runs] == ["run-1", "run-2"]
    for command in runs[0]:
        if command != audit:  # lint, builds...: pure functions of the source, cacheable
            assert RUN_VARIABLE not in runs[0][command]
            assert runs[0][command] == runs[1][command]


async def test_a_failed_step_is_named_with_the_tail_of_its_output(
    dagger_standin: StandInSession,
) -> None:
    output = "\n".join(f"lint line {i}" for i in range(1, 101))

    def sync(calls: list[Call]) -> str:
        if execs(calls)[-1] == ["npm", "run", "lint"]:
            raise ExecFailure(["npm", "run", "lint"], 2, stdout=output, stderr="3 problems")
        return dagger_standin._make_id("Container", calls)

    dagger_standin.respond("Container.sync", sync)
    with pytest.raises(FunctionError) as failed:  # the function's error: CheckFailed's text
        await MetaboostCi(source=dag.directory()).validate()
    message = str(failed.value)
    assert "validate step 'lint' (npm run lint) failed with exit code 2" in message
    assert "lint line 100" in message
    assert "3 problems" in message
    assert "lint line 60\n" not in message  # only the tail
    # Nothing after the failed step ran.
    assert all(
        ["npm", "run", "type-check"] not in execs(c)
        for c in dagger_standin.leaves("Container.sync")
    )


def test_the_validate_steps_pass_on_the_sample_with_this_machines_npm(tmp_path: Path) -> None:
    """The same commands, here on a copy of the sample (not audit: it needs the network)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH")
    root = tmp_path / "sample"
    shutil.copytree(
        SAMPLE, root, ignore=shutil.ignore_patterns("node_modules", "dist", ".env.local")
    )
    for step in STEPS:
        if step.name == "audit":
            continue
        command = list(step.command)
        if step.name == "install":
            command.append("--offline")  # the sample has no registry dependencies
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{step.name}: {done.stdout}{done.stderr}"
    assert (root / "apps/web/.env.local").read_text() == (
        root / "apps/web/.env.example"
    ).read_text()
    assert (root / "packages/runtime-config/dist/index.js").is_file()
    assert (root / "apps/api/dist/build-info.json").is_file()
