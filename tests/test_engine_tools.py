"""The one release path: ``metaboost-ci`` in the tools container (``engine.tools``).

Call chains, offline: every release operation's exec carries this run's id
(so the engine's exec cache can never answer a reservation or a tag move
from an earlier run), secrets reach the command line only as secret
variables, and the command line's error comes back as the same error.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from dagger import dag

from metaboost_ci.core.errors import CheckFailed, InputError
from metaboost_ci.core.flows import (
    AppTags,
    Discovery,
    PublishSummary,
    ReleaseOutcome,
    Reservation,
    Verification,
)
from metaboost_ci.engine.operate import rollback_report, status_report
from metaboost_ci.engine.tools import (
    MONOREPO_DIR,
    RUN_VARIABLE,
    UV_VERSION,
    Cli,
    CliOps,
    CliSecrets,
    CliTarget,
    release_cli,
)
from tests.support.dagger_offline import (
    Call,
    ExecFailure,
    StandInSession,
    args_of,
    env_before_last_exec,
    execs,
)
from tests.support.tools_image import containerfile

SHA = "89abcdef0123456789abcdef0123456789abcdef"
APPS = ("api", "web")
TARGET = CliTarget("ghcr.io", "acme/metaboost", APPS)

RESERVATION = Reservation(
    version="1.2.0-staging.3",
    base="1.2.0",
    n=3,
    commit=SHA,
    action="created",
    hint=3,
    registry_hint="read",
    store="GitHub acme/metaboost",
    attempts=1,
)
DISCOVERY = Discovery(
    base="1.2.0", apps={app: AppTags(app=app, exists=True, tags=(), staging=(3,)) for app in APPS}
)
VERIFICATION = Verification(
    version="1.2.0-staging.3",
    float_tag="staging",
    digests={app: f"sha256:{app}" for app in APPS},
    revisions={app: [SHA] for app in APPS},
)
RELEASE = ReleaseOutcome(
    tag="1.2.0-staging.3",
    action="created",
    prerelease=True,
    url="https://github.com/acme/metaboost/releases/x",
)
SUMMARY = PublishSummary(version="1.2.0", images=(), float_tag="latest")
# What each command answers: the results' own documents, as the command line prints them.
ANSWERS: dict[str, dict[str, Any]] = {
    "reserve": RESERVATION.to_dict(),
    "discover": DISCOVERY.to_dict(),
    "verify": VERIFICATION.to_dict(),
    "move-floating": {},
    "status": {"consistent": True},
    "rollback": {"changed": True},
    "release": RELEASE.to_dict(),
    "promote": {"git_tag": "created", "summary": SUMMARY.to_dict()},
}

Operation = Callable[[CliOps], Awaitable[object]]
OPERATIONS: dict[str, Operation] = {
    "reserve": lambda ops: ops.reserve(commit=SHA, base="1.2.0", override=None, dry_run=False),
    "present": lambda ops: ops.present(version="1.2.0-staging.3"),
    "verify": lambda ops: ops.verify(version="1.2.0-staging.3", float_tag="staging"),
    "move-floating": lambda ops: ops.move_floating(version="1.2.0-staging.3", float_tag="staging"),
    "release": lambda ops: ops.release(tag="1.2.0-staging.3", commit=SHA, prerelease=True),
    "promote": lambda ops: ops.promote(commit=SHA, base="1.2.0", dry_run=False),
    # The module's status and rollback functions run these on the same Cli.
    "status": lambda ops: status_report(cast(Cli, ops.cli), base_version="", report_format="json"),
    "rollback": lambda ops: rollback_report(
        cast(Cli, ops.cli), version="1.1.0", float_tag="latest", dry_run=False, as_json=True
    ),
}


def answering(session: StandInSession) -> list[list[Call]]:
    """Answer every command from ANSWERS; the chains of the execs run."""
    ran: list[list[Call]] = []

    def stdout(calls: list[Call]) -> str:
        ran.append(calls)
        argv = execs(calls)[-1]
        assert argv[0] == "metaboost-ci"
        return json.dumps(ANSWERS[argv[len(TARGET.global_args()) + 1]])

    session.respond("Container.stdout", stdout)
    session.respond("Container.exitCode", 0)  # status runs with expect: ANY
    return ran


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_every_release_operation_exec_carries_this_runs_id(
    dagger_standin: StandInSession, operation: str
) -> None:
    ran = answering(dagger_standin)
    await OPERATIONS[operation](CliOps(Cli(dag.container(), TARGET, "run-1")))
    assert ran, "no command ran"
    for calls in ran:
        assert env_before_last_exec(calls)[RUN_VARIABLE] == "run-1", execs(calls)[-1]
    # Another run: the same command, another exec (the cache cannot answer it).
    first = [execs(c)[-1] for c in ran]
    ran.clear()
    await OPERATIONS[operation](CliOps(Cli(dag.container(), TARGET, "run-2")))
    assert [execs(c)[-1] for c in ran] == first
    assert {env_before_last_exec(c)[RUN_VARIABLE] for c in ran} == {"run-2"}


async def test_release_and_promote_read_the_changelog_from_the_mounted_monorepo(
    dagger_standin: StandInSession,
) -> None:
    ran = answering(dagger_standin)
    ops = CliOps(Cli(dag.container(), TARGET, "r"))
    await OPERATIONS["release"](ops)
    await OPERATIONS["promote"](ops)
    for calls in ran:
        argv = execs(calls)[-1]
        assert argv[argv.index("--source") + 1] == MONOREPO_DIR


async def test_secrets_reach_the_command_line_as_secret_variables_only(
    dagger_standin: StandInSession,
) -> None:
    ran = answering(dagger_standin)
    secrets = CliSecrets(
        dag.set_secret("gh", "ghp_abc123"), dag.set_secret("reg", "reg_xyz789"), "acme"
    )
    cli = release_cli(dag.directory(), dag.directory(), TARGET, secrets, run_id="r")
    await cli.run("verify", "--version", "1.2.0")
    [calls] = ran
    bound = {
        a["name"]: dagger_standin.origin(a["secret"]) for a in args_of(calls, "withSecretVariable")
    }
    assert {name: args_of(chain, "setSecret")[0]["name"] for name, chain in bound.items()} == {
        "GITHUB_TOKEN": "gh",
        "GHCR_REGISTRY_TOKEN": "reg",
    }
    assert env_before_last_exec(calls)["REGISTRY_USERNAME"] == "acme"
    # The module never asked the engine for a secret's value.
    assert dagger_standin.leaves("Secret.plaintext") == []
    assert all("ghp_abc123" not in arg and "reg_xyz789" not in arg for arg in execs(calls)[-1])
    # The monorepo is the command line's working directory and --source.
    assert args_of(calls, "withWorkdir")[-1] == {"path": MONOREPO_DIR}


def test_production_points_the_command_line_at_the_registry_and_the_github_api() -> None:
    target = CliTarget("ghcr.io", "acme/metaboost", APPS, "https://ghe.example/api/v3")
    assert target.global_args() == [
        "--registry",
        "ghcr.io",
        "--repository",
        "acme/metaboost",
        "--apps",
        "api,web",
        "--github-api-url",
        "https://ghe.example/api/v3",
        "--json",
    ]


def failing_with(session: StandInSession, code: int, document: dict[str, Any]) -> None:
    def stdout(calls: list[Call]) -> str:
        raise ExecFailure(execs(calls)[-1], code, json.dumps(document), "error: ...")

    session.respond("Container.stdout", stdout)


async def test_the_command_lines_input_error_comes_back_with_its_sentence_and_fix(
    dagger_standin: StandInSession,
) -> None:
    failing_with(
        dagger_standin,
        2,
        {
            "error": {
                "kind": "ConfigError",
                "message": "GITHUB_TOKEN is not set.",
                "problems": [],
                "fix": "Pass --github-token=env://GITHUB_TOKEN.",
                "exit_code": 2,
            }
        },
    )
    with pytest.raises(InputError) as failed:
        await Cli(dag.container(), TARGET, "r").run("reserve", "--commit", SHA)
    assert failed.value.describe() == (
        "GITHUB_TOKEN is not set. Fix: Pass --github-token=env://GITHUB_TOKEN."
    )


async def test_a_failed_check_comes_back_with_every_problem(
    dagger_standin: StandInSession,
) -> None:
    failing_with(
        dagger_standin,
        1,
        {
            "error": {
                "kind": "CheckFailed",
                "message": "1.2.0-staging.3 is missing on 1 app(s).",
                "problems": ["ghcr.io/acme/metaboost/web:1.2.0-staging.3 does not exist."],
                "fix": "Publish it first.",
                "exit_code": 1,
            }
        },
    )
    with pytest.raises(CheckFailed) as failed:
        await Cli(dag.container(), TARGET, "r").run("verify", "--version", "1.2.0-staging.3")
    assert failed.value.problems == ["ghcr.io/acme/metaboost/web:1.2.0-staging.3 does not exist."]
    assert failed.value.describe().endswith("\nFix: Publish it first.")


def test_the_buildah_measurement_builds_what_the_engine_builds() -> None:
    """tests/support/tools_image.py derives its Containerfile from tools_image's chain."""
    lines = containerfile().splitlines()
    runs = [line for line in lines if line.startswith("RUN ")]
    assert runs == [
        "RUN python3 -m ensurepip --default-pip",  # the stand-in has no pip; the image has
        f"RUN pip install -q --disable-pip-version-check uv=={UV_VERSION}",
        "RUN uv sync --locked --no-dev --no-editable --quiet",
    ]
    assert "COPY project/ /opt/metaboost-ci/" in lines
    assert lines[-1] == "ENV PATH=/opt/venv/bin:$PATH"
