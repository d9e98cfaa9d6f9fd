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

from tests.support.dagger_offline import (
    DAGGER_JSON_SCHEMA_FILE,
    REPO,
    StandInSession,
    module_surface,
    shared_dagger_file,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "dagger_surface.json"
# Each function's cache policy (None: Dagger's default, cached up to 7 days).
# "never": every call runs; "session": every `dagger call` runs (deduplicated
# within one session). A function that reads the outside world (registries,
# GitHub, npm's registry and advisories) or has side effects is never cacheable.
CACHE_POLICIES: dict[str, str | None] = {
    "(constructor)": None,
    "build": None,  # a pure function of the source
    "build-all": None,  # a pure function of the source
    "validate": "session",  # the npm audit reads today's advisories
    "smoke": "session",  # fresh services, a fresh run id
    "lockfile": "never",  # npm install resolves against a moving registry
    "bump-version": "never",  # cheap (versions edited in place); never a stale tree
    "publish-staging": "never",
    "publish-main": "never",
    "verify": "never",
    "plan": "never",
    "status": "never",  # reads the registry and GitHub as they are now
    "rollback": "never",  # moves tags
    "rehearse": "never",
}
# Every function the module exposes: each has its policy above.
EXPECTED_FUNCTIONS = set(CACHE_POLICIES)
# What each policy's docstring says, so `dagger functions` tells the user.
POLICY_WORDS = {None: "cached", "session": "every call", "never": "never cached"}


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


def test_every_function_has_its_chosen_cache_policy_and_says_so() -> None:
    functions = module_surface()["objects"]["MetaboostCi"]["functions"]
    assert {name: f["cache"] for name, f in functions.items()} == CACHE_POLICIES
    for name, function in functions.items():
        if name != "(constructor)":
            assert POLICY_WORDS[function["cache"]] in function["doc"], name


def test_nothing_that_reads_the_outside_world_is_cacheable() -> None:
    """Dagger's default caches a function's answer for days: a stale audit, reservation, plan."""
    functions = module_surface()["objects"]["MetaboostCi"]["functions"]
    cacheable = {name for name, f in functions.items() if f["cache"] not in ("never", "session")}
    # Only what is a pure function of its inputs (the constructor, the builds).
    assert cacheable == {"(constructor)", "build", "build-all"}


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
    for text in (
        '"publish_staging"',
        '"bump_version"',
        'defaultPath: "/"',
        "policy: Never",
        "policy: PerSession",
    ):
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
