"""The GitHub Actions workflows as data, for the workflow tests.

- ``load(name)``: a workflow file parsed (``on`` restored as a key);
- ``steps``/``step``: its steps, one by ``id``;
- ``surface()``: what ``dagger call`` accepts, from the module's surface
  snapshot (function -> flags), to check the workflows' calls against;
- ``split_call``/``flags``: a ``dagger call`` argv taken apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
SURFACE = REPO / "tests" / "snapshots" / "dagger_surface.json"
DAGGER_ACTION = "dagger/dagger-for-github@27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77"  # v8.4.1


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return cast(dict[str, Any], data)


def all_workflows() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def step(workflow: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in steps(workflow) if s.get("id") == step_id)


def surface() -> dict[str, set[str]]:
    """Function (and "(constructor)") -> its flags, from the module's surface snapshot."""
    data = json.loads(SURFACE.read_text(encoding="utf-8"))
    functions = data["objects"][data["main_object"]]["functions"]
    return {name: {a["flag"] for a in f["args"]} for name, f in functions.items()}


def split_call(argv: list[str]) -> tuple[list[str], str, list[str]]:
    """``[--progress=plain] call <constructor flags> <function> <flags>``."""
    assert argv[:2] == ["--progress=plain", "call"], argv
    rest = argv[2:]
    at = next(i for i, a in enumerate(rest) if not a.startswith("--"))
    return rest[:at], rest[at], rest[at + 1 :]


def flags(args: list[str]) -> dict[str, str]:
    """``--name=value`` -> value; a bare boolean ``--name`` -> "true"."""
    return dict(a.split("=", 1) if "=" in a else (a, "true") for a in args)
