"""What `dagger call` exposes: a committed snapshot, and the registration the engine gets.

Regenerate the snapshot after an intended change of the module's surface:
    SNAPSHOT_UPDATE=1 .venv/bin/pytest tests/test_engine_surface.py
and review the diff of tests/snapshots/dagger_surface.json like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagger.mod
import jsonschema
from packaging.requirements import Requirement

from metaboost_ci.engine.rehearse import PYTHON_IMAGE
from tests.support.dagger_offline import (
    DAGGER_JSON_SCHEMA_FILE,
    REPO,
    StandInSession,
    module_surface,
    shared_dagger_file,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "dagger_surface.json"
EXPECTED_FUNCTIONS = {
    "(constructor)",
    "validate",
    "build",
    "build-all",
    "smoke",
    "publish-staging",
    "publish-main",
    "verify",
    "plan",
    "lockfile",
    "bump-version",
    "rehearse",
}
SIDE_EFFECTS = {"publish-staging", "publish-main", "rehearse", "verify", "plan"}


def test_surface_matches_the_committed_snapshot() -> None:
    surface = module_surface()
    rendered = json.dumps(surface, indent=2, sort_keys=True) + "\n"
    if os.environ.get("SNAPSHOT_UPDATE") == "1":
        SNAPSHOT.write_text(rendered, encoding="utf-8")
    assert SNAPSHOT.is_file(), "no snapshot yet: run with SNAPSHOT_UPDATE=1 and commit it"
    assert json.loads(rendered) == json.loads(SNAPSHOT.read_text(encoding="utf-8")), (
        "the module's surface changed; if intended, regenerate with SNAPSHOT_UPDATE=1 "
        "and review the diff"
    )


def test_every_function_and_argument_is_documented() -> None:
    functions = module_surface()["objects"]["MetaboostCi"]["functions"]
    assert set(functions) == EXPECTED_FUNCTIONS
    for name, function in functions.items():
        assert function["doc"], f"{name} has no doc"
        assert "\n" not in function["doc"].strip(), f"{name}: the doc is one line"
        for arg in function["args"]:
            assert arg["doc"], f"{name} {arg['flag']} has no doc"


def test_side_effects_and_remote_reads_are_never_cached() -> None:
    functions = module_surface()["objects"]["MetaboostCi"]["functions"]
    never = {name for name, f in functions.items() if f["cache"] == "never"}
    assert never == SIDE_EFFECTS


def test_source_defaults_to_the_repository_root_without_outputs() -> None:
    constructor = module_surface()["objects"]["MetaboostCi"]["functions"]["(constructor)"]
    args = {a["flag"]: a for a in constructor["args"]}
    assert args["--source"]["default_path"] == "/"
    assert set(args["--source"]["ignore"]) >= {"**/node_modules", "**/.next", "**/dist", ".git"}
    assert args["--registry"]["default"] == '"ghcr.io"'
    assert args["--apps"]["optional"]


def test_secrets_are_secret_typed() -> None:
    functions = module_surface()["objects"]["MetaboostCi"]["functions"]
    for name in ("publish-staging", "publish-main"):
        args = {a["flag"]: a for a in functions[name]["args"]}
        assert args["--github-token"]["type"] == "dagger.Secret"
        assert not args["--github-token"]["optional"]
        assert args["--registry-token"]["type"] == "dagger.Secret | None"


async def test_the_registration_query_validates_against_the_engine_schema(
    dagger_standin: StandInSession,
) -> None:
    """What the runtime sends the engine at `dagger functions`: every type must be expressible."""
    module_surface()  # imports the module object
    await dagger.mod.default_module()._typedefs()
    registration = "\n".join(dagger_standin.texts())
    for text in ('"publish_staging"', '"bump_version"', 'defaultPath: "/"', "policy: Never"):
        assert text in registration


def test_dagger_json_follows_daggers_schema() -> None:
    schema = json.loads(shared_dagger_file(DAGGER_JSON_SCHEMA_FILE).read_text(encoding="utf-8"))
    config = json.loads((REPO / "dagger.json").read_text(encoding="utf-8"))
    jsonschema.validate(config, schema)
    assert config["name"] == "metaboost-ci"
    assert config["engineVersion"] == "v0.21.11"
    assert config["sdk"]["source"] == "python"


def test_the_entry_point_names_the_main_object() -> None:
    """The runtime loads the object from the entry point; its class name must match dagger.json."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    entry = project["project"]["entry-points"]["dagger.mod"]["main_object"]
    assert entry == "metaboost_ci.engine.main:MetaboostCi"
    config = json.loads((REPO / "dagger.json").read_text(encoding="utf-8"))
    camel = "".join(part.capitalize() for part in config["name"].split("-"))
    assert entry.rsplit(":", 1)[1] == camel


# The engine's Python runtime vendors its own SDK into ./sdk with the version
# its pyproject carries in the Dagger repository (0.0.0), then runs
# `uv pip install -e ./sdk -e .` and `uv pip check` (sdk/python/runtime/main.go,
# WithInstall). The module's runtime requirement must accept that version.
ENGINE_VENDORED_SDK_VERSION = "0.0.0"


def _dagger_io(requirements: list[str]) -> list[Requirement]:
    parsed = [Requirement(r) for r in requirements]
    return [r for r in parsed if r.name == "dagger-io"]


def test_the_runtime_can_install_the_module_with_the_engines_own_sdk() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    engine = json.loads((REPO / "dagger.json").read_text(encoding="utf-8"))["engineVersion"]
    (runtime,) = _dagger_io(project["dependencies"])
    assert runtime.specifier.contains(ENGINE_VENDORED_SDK_VERSION), (
        f"{runtime} rejects the engine's vendored SDK ({ENGINE_VENDORED_SDK_VERSION}): "
        "`uv pip install -e ./sdk -e .` in the module runtime would fail"
    )
    assert runtime.specifier.contains(engine.removeprefix("v"))
    # The runtime's base image is python:<requires-python's minimum>-slim
    # (sdk/python/runtime/discovery.go); the rehearsal's tools container uses the same.
    minimum = project["requires-python"].removeprefix(">=")
    assert f"python:{minimum}-slim" == PYTHON_IMAGE
    # The offline checks read private SDK attributes: the extras pin it exactly.
    for extra in ("test", "lint"):
        (pinned,) = _dagger_io(project["optional-dependencies"][extra])
        assert str(pinned.specifier) == f"=={engine.removeprefix('v')}", extra
