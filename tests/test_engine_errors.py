"""Our errors under `dagger call`: the command line's sentence and fix, no traceback.

Driven through the SDK's own invocation path, offline: ``Module.get_result``
(what ``Module.invoke`` calls with the engine's function call: the parent's
state, the function's name, its JSON inputs) and ``record_exception`` (what
the runtime's entrypoint sends the engine as the call's error, the text
`dagger call` prints). The SDK logs any other exception with its traceback
(``Module.call``); a ``FunctionError`` it passes on as it is.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import dagger.mod
import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError, record_exception

from tests.support.dagger_offline import Call, ExecFailure, StandInSession, args_of, execs
from tests.support.dagger_offline import module_surface as load_module
from tests.test_engine_bump import SampleFiles

SHA = "0123456789abcdef0123456789abcdef01234567"


async def call(function: str, parent: dict[str, Any], inputs: dict[str, Any]) -> Any:
    """The function as the runtime invokes it (API names, JSON-decoded values)."""
    load_module()
    module = dagger.mod.default_module()
    return await module.get_result("MetaboostCi", parent, function, inputs)


async def parent_state(**fields: Any) -> dict[str, Any]:
    return {"source": await dag.directory().id(), **fields}


async def sent_error(session: StandInSession, error: Exception) -> str:
    """The message the runtime's entrypoint sends the engine for ``error``."""
    await record_exception(error)
    [sent] = [c for q in session.queries for chain in q.leaves for c in chain if c.field == "error"]
    return str(sent.args["message"])


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info and r.exc_info[2] is not None]


async def test_bad_input_is_one_sentence_and_its_fix(
    dagger_standin: StandInSession, caplog: pytest.LogCaptureFixture
) -> None:
    token = await dag.set_secret("t", "token-value").id()
    with pytest.raises(FunctionError) as failed:
        await call("publish_main", await parent_state(), {"commit": SHA, "github_token": token})
    assert str(failed.value) == (
        "No repository given. Fix: Pass --repository OWNER/REPO to the module "
        "(dagger call --repository ...)."
    )
    assert tracebacks(caplog) == []
    assert await sent_error(dagger_standin, failed.value) == f"FunctionError: {failed.value}"


async def test_the_command_lines_failure_in_the_tools_container_reads_as_on_the_command_line(
    dagger_standin: StandInSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A check the tools container's `metaboost-ci` refuses: its own message, problems and fix."""
    SampleFiles(dagger_standin)
    document = {
        "error": {
            "kind": "CheckFailed",
            "message": "No staging build of 0.1.0 carries this commit.",
            "problems": ["ghcr.io/acme/metaboost/api: no 0.1.0-staging.N"],
            "fix": "Publish staging from this commit first.",
            "exit_code": 1,
        }
    }

    def stdout(calls: list[Call]) -> str:
        raise ExecFailure(execs(calls)[-1], 1, json.dumps(document), "error: ...")

    dagger_standin.respond("Container.stdout", stdout)
    token = await dag.set_secret("t", "token-value").id()
    with pytest.raises(FunctionError) as failed:
        await call(
            "publish_main",
            await parent_state(repository="acme/metaboost"),
            {"commit": SHA, "github_token": token},
        )
    assert str(failed.value) == (
        "No staging build of 0.1.0 carries this commit.\n"
        "  - ghcr.io/acme/metaboost/api: no 0.1.0-staging.N\n"
        "Fix: Publish staging from this commit first."
    )
    assert tracebacks(caplog) == []
    # It came from the command line in the tools container, with the token as a secret.
    [ran] = dagger_standin.leaves("Container.stdout")
    assert execs(ran)[-1][:2] == ["metaboost-ci", "--registry"]
    assert [a["name"] for a in args_of(ran, "withSecretVariable")] == ["GITHUB_TOKEN"]


async def test_anything_else_still_reaches_the_sdk_as_it_was(
    dagger_standin: StandInSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Only our errors are turned into sentences; a bug keeps its traceback (control case)."""

    def stdout(calls: list[Call]) -> str:
        return "not json"

    SampleFiles(dagger_standin)
    dagger_standin.respond("Container.stdout", stdout)
    token = await dag.set_secret("t", "token-value").id()
    with pytest.raises(FunctionError):
        await call(
            "publish_main",
            await parent_state(repository="acme/metaboost"),
            {"commit": SHA, "github_token": token},
        )
    assert tracebacks(caplog), "the SDK logs an unexpected exception with its traceback"
