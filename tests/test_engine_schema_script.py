"""tests/support/engine_schema.py: the engine's schema for the offline checks.

ci.yml's engine job writes the schema from the running engine and runs the
offline GraphQL checks against it; here the conversion and the command are
tested with a stand-in ``dagger`` (no engine can run on these machines).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import graphql
import pytest

from tests.support import dagger_offline
from tests.support.engine_schema import SCHEMA_FILE, sdl_from_introspection

REPO = Path(__file__).resolve().parents[1]

SMALL_SDL = '''
"""A container."""
type Container {
  "Runs a command."
  withExec(args: [String!]!, expect: ReturnType = SUCCESS): Container!
  stdout: String!
}

enum ReturnType { SUCCESS FAILURE ANY }

type Query {
  container(platform: String): Container!
  version: String!
}
'''


def _introspection(sdl: str) -> dict[str, object]:
    return dict(graphql.introspection_from_schema(graphql.build_schema(sdl)))


@pytest.mark.parametrize("wrapped", [False, True])
def test_the_sdl_round_trips_through_introspection(wrapped: bool) -> None:
    document = _introspection(SMALL_SDL)
    if wrapped:  # a GraphQL response: {"data": {...}}
        document = {"data": document}
    sdl = sdl_from_introspection(document)
    original = graphql.print_schema(graphql.build_schema(SMALL_SDL))
    assert graphql.print_schema(graphql.build_schema(sdl)) == original
    assert '"Runs a command."' in sdl  # descriptions kept


def test_the_shared_engine_schema_round_trips() -> None:
    # What the engine job writes is what the offline checks can read.
    path = dagger_offline.shared_dagger_file(SCHEMA_FILE)
    schema = graphql.build_schema(path.read_text(encoding="utf-8"))
    sdl = sdl_from_introspection(dict(graphql.introspection_from_schema(schema)))
    assert graphql.print_schema(graphql.build_schema(sdl)) == graphql.print_schema(schema)


def test_a_document_without_a_schema_is_refused() -> None:
    with pytest.raises(ValueError, match="no __schema"):
        sdl_from_introspection({"data": {"version": "v0.21.11"}})


STAND_IN = """#!{python}
import json, os, sys
query = sys.stdin.read()
with open(os.environ["STAND_IN_LOG"], "w") as log:
    json.dump({{"argv": sys.argv[1:], "cwd": os.getcwd(),
               "dagger_json": os.path.exists("dagger.json"),
               "asks_schema": "__schema" in query}}, log)
if os.environ.get("STAND_IN_FAIL"):
    sys.stderr.write("Error: failed to connect to the engine\\n")
    sys.exit(1)
sys.stdout.write(open(os.environ["STAND_IN_ANSWER"]).read())
"""


def _run(tmp_path: Path, out: Path, *, fail: bool = False) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    dagger = bin_dir / "dagger"
    dagger.write_text(STAND_IN.format(python=sys.executable))
    dagger.chmod(0o755)
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(_introspection(SMALL_SDL)))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "STAND_IN_LOG": str(tmp_path / "log.json"),
        "STAND_IN_ANSWER": str(answer),
        **({"STAND_IN_FAIL": "1"} if fail else {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.support.engine_schema", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_command_writes_the_schema_the_offline_checks_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "schema"
    done = _run(tmp_path, out)
    assert done.returncode == 0, done.stderr
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["argv"] == ["query"]
    assert log["asks_schema"]
    assert not log["dagger_json"]  # asked outside any module
    assert Path(log["cwd"]) != REPO
    # The offline checks find it through the variable ci.yml sets.
    monkeypatch.setenv(dagger_offline.SCHEMA_DIR_VARIABLE, str(out))
    written = dagger_offline.shared_dagger_file(SCHEMA_FILE)
    assert written == out / SCHEMA_FILE
    assert "version" in graphql.build_schema(written.read_text()).query_type.fields  # type: ignore[union-attr]


def test_a_failing_engine_fails_the_command_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "schema"
    done = _run(tmp_path, out, fail=True)
    assert done.returncode == 1
    assert "failed to connect to the engine" in done.stderr
    assert not (out / SCHEMA_FILE).exists()


def test_without_the_files_the_skip_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dagger_offline.SCHEMA_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(pytest.skip.Exception, match=dagger_offline.SCHEMA_DIR_VARIABLE):
        dagger_offline.shared_dagger_file(SCHEMA_FILE)
