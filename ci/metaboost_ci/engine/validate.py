"""validate: the old workflow's checks, step by step, in node:24.

Each step is its own exec, evaluated before the next starts, so a failure
names the step that failed and shows the tail of its output rather than a
whole log.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagger

from ..core.apps import choose_known
from ..core.errors import CheckFailed
from ..core.redact import redact
from .node import RUN_VARIABLE, node_container

TAIL_LINES = 40


@dataclass(frozen=True)
class Step:
    name: str
    command: tuple[str, ...]
    # Reads the outside world (the npm advisory database): must never be a cached answer.
    reads_world: bool = False

    @property
    def display(self) -> str:
        return " ".join(self.command) if self.command[0] != "sh" else self.command[-1]


# The seed's order: install, audit, packages, lint, types, web env, apps.
STEPS: tuple[Step, ...] = (
    Step("install", ("npm", "ci", "--include=optional")),
    Step("audit", ("npm", "audit", "--omit=dev", "--audit-level=moderate"), reads_world=True),
    Step("build-packages", ("npm", "run", "build:packages")),
    Step("lint", ("npm", "run", "lint")),
    Step("type-check", ("npm", "run", "type-check")),
    Step(
        "web-env",
        (
            "sh",
            "-c",
            "[ -f apps/web/.env.local ] || cp apps/web/.env.example apps/web/.env.local",
        ),
    ),
    Step("build-apps", ("npm", "run", "build:apps")),
)
STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)


def choose_steps(names: list[str] | None) -> list[Step]:
    """The steps named (in the order given), or all of them; unknown names are errors."""
    if not names:
        return list(STEPS)
    by_name = {step.name: step for step in STEPS}
    return [by_name[n] for n in choose_known(names, STEP_NAMES, what="validate step")]


def tail(text: str, lines: int = TAIL_LINES) -> str:
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(kept)


def step_failure(step: Step, error: dagger.ExecError) -> CheckFailed:
    """The error for a failed step: its name, exit code and the tail of its output."""
    output = "\n".join(part for part in (error.stdout, error.stderr) if part.strip())
    last = tail(output) or "(the step printed nothing)"
    return CheckFailed(
        redact(
            f"validate step {step.name!r} ({step.display}) failed with exit code "
            f"{error.exit_code}. Last lines of its output:\n{last}"
        ),
        fix=f"Run `{step.display}` in the monorepo to reproduce.",
    )


def step_container(container: dagger.Container, step: Step, run_id: str) -> dagger.Container:
    """``container`` with ``step``'s exec; a step that reads the world carries ``run_id``.

    The engine caches an exec by its inputs: with an unchanged lockfile,
    ``npm audit`` would return the last answer and a newly published advisory
    would not block anything. This run's id in its environment makes it a
    new exec on every run. The other steps are pure functions of the source.
    """
    if step.reads_world:
        container = container.with_env_variable(RUN_VARIABLE, run_id)
    return container.with_exec(list(step.command))


async def run_validate(source: dagger.Directory, steps: list[Step], *, run_id: str) -> list[str]:
    """Run ``steps`` in order in one container; one line per passed step.

    A step that reads the world (the audit) runs on a branch: the steps after
    it continue from the container before it, so its per-run value does not
    make them run again too (it changes no file they use).
    """
    container = node_container(source)
    passed: list[str] = []
    for step in steps:
        ran = step_container(container, step, run_id)
        try:
            ran = await ran.sync()
        except dagger.ExecError as error:
            raise step_failure(step, error) from None
        if not step.reads_world:
            container = ran
        passed.append(f"ok  {step.name}: {step.display}")
    return passed
