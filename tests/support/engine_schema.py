"""The engine's own GraphQL schema, for the offline checks, where an engine runs.

The offline tests validate every query the module builds against
``schema-v0.21.11.graphqls``, read from ``../shared/dagger/`` beside the
checkout (``.ci/run`` has it; a fresh clone and GitHub Actions do not). Where
an engine answers, this writes the same file from the engine itself, so that
GitHub Actions (``ci.yml``'s engine job) runs those checks against the schema
of the engine that runs the module, and any drift from the shared copy shows:

    .venv/bin/python -m tests.support.engine_schema DIR
    METABOOST_DAGGER_SCHEMA_DIR=DIR .venv/bin/pytest tests/test_engine_*.py

Introspection does not carry the directives applied in the schema, so the
``@expectedType`` check of ID arguments (a Service argument gets a Service's
ID) runs only against the shared copy; every other rule runs against both.
The JSON schema of dagger.json does not come from an engine: that one check
stays skipped there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import graphql

SCHEMA_FILE = "schema-v0.21.11.graphqls"  # the name the offline tests read


def sdl_from_introspection(document: dict[str, Any]) -> str:
    """SDL text from an introspection result (bare, or wrapped in ``data``)."""
    data = document.get("data", document)
    if not isinstance(data, dict) or "__schema" not in data:
        raise ValueError("not an introspection result: no __schema")
    schema = graphql.build_client_schema(data)  # pyright: ignore[reportArgumentType]
    return graphql.print_schema(schema) + "\n"


def introspect(dagger: str = "dagger") -> dict[str, Any]:
    """Ask the engine for its schema with ``dagger query`` (no module loaded)."""
    # Outside any checkout: no dagger.json nearby, so no module is loaded
    # (the same reason ci.yml's engine probe runs in the runner's temp folder).
    with tempfile.TemporaryDirectory() as empty:
        done = subprocess.run(
            [dagger, "query"],
            input=graphql.get_introspection_query(descriptions=True),
            capture_output=True,
            text=True,
            cwd=empty,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"`dagger query` failed ({done.returncode}): {tail}")
    return json.loads(done.stdout)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.support.engine_schema OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    try:
        sdl = sdl_from_introspection(introspect())
    except (RuntimeError, ValueError, json.JSONDecodeError, OSError) as exc:
        print(f"engine_schema: {exc}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / SCHEMA_FILE).write_text(sdl, encoding="utf-8")
    types = len(graphql.build_schema(sdl).type_map)
    print(f"engine_schema: wrote {out / SCHEMA_FILE} ({types} types)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
