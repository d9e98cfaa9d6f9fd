"""The publish workflows' scripts, run for real under bash with a stand-in ``dagger``.

The stand-in records its arguments and prints what ``dagger call ... --json``
prints (a real ``PublishSummary``'s JSON document). The arguments must exist
on the module (its surface snapshot), secrets travel only as ``env://``
references, the Markdown lands in ``$GITHUB_STEP_SUMMARY`` (with whether the
engine's cache was warm or cold) and the version and each app's image and
digest in ``$GITHUB_OUTPUT``; the attestation job's subjects, resolved from
those outputs as Actions would, are the pushed digests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS
from metaboost_ci.core.flows import ImageRow, PublishSummary
from metaboost_ci.engine.publish import summary_document
from tests.support.workflows import flags, load, split_call, step, surface

ATTEST_ACTION = "actions/attest-build-provenance@96278af6caaf10aea03fd8d33a09a777ca52d62f"  # v3.2.0

# Prints what ``dagger call ... --json`` prints: the summary's JSON document.
FAKE_DAGGER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_DAGGER_LOG"], "w") as log:
    json.dump(sys.argv[1:], log)
sys.stdout.write(os.environ["FAKE_DAGGER_OUTPUT"])
"""


def outputs_of(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT``'s ``key=value`` lines (each value is one line)."""
    return dict(line.split("=", 1) for line in text.splitlines())


def run_publish_step(
    tmp_path: Path, name: str, env: dict[str, str], summary: PublishSummary
) -> tuple[list[str], str, str]:
    """Run the workflow's publish script; return (dagger argv, step summary, outputs)."""
    script = step(load(name), "publish")["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dagger"
    fake.write_text(FAKE_DAGGER.format(python=sys.executable))
    fake.chmod(0o755)
    files = {key: tmp_path / key.lower() for key in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT")}
    for path in files.values():
        path.write_text("")
    (tmp_path / "runner").mkdir()
    full_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DAGGER_LOG": str(tmp_path / "argv.json"),
        "FAKE_DAGGER_OUTPUT": summary_document(summary),
        "RUNNER_TEMP": str(tmp_path / "runner"),
        "GITHUB_REPOSITORY": "metaboost/metaboost",
        "GITHUB_SHA": "a" * 40,
        "GITHUB_ACTOR": "octocat",
        **{key: str(path) for key, path in files.items()},
        **env,
    }
    # As Actions runs a `run:` script: bash -e {0} (plus the script's own set -euo pipefail).
    result = subprocess.run(
        ["bash", "-e", "-c", script], env=full_env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    argv = json.loads((tmp_path / "argv.json").read_text())
    return argv, files["GITHUB_STEP_SUMMARY"].read_text(), files["GITHUB_OUTPUT"].read_text()


def pushed_digest(app: str) -> str:
    return "sha256:" + (app.encode().hex() * 64)[:64]


def summary_for(version: str, digest: str | None = None) -> PublishSummary:
    rows = tuple(
        ImageRow(
            app, f"ghcr.io/metaboost/metaboost/{app}", (version,), digest or pushed_digest(app)
        )
        for app in DEFAULT_APPS
    )
    return PublishSummary(version, rows, "staging")


def resolve(expression: str, context: dict[str, Any]) -> Any:
    """A ``${{ a.b.c }}`` or ``${{ fromJSON(a.b.c) }}`` expression against ``context``."""
    found = re.fullmatch(r"\$\{\{ (fromJSON\()?([\w.-]+)\)? \}\}", expression)
    assert found, f"not a plain property expression: {expression}"
    value: Any = context
    for key in found.group(2).split("."):
        value = value[key]
    return json.loads(value) if found.group(1) else value


def attestation_subjects(job_outputs: dict[str, str]) -> list[tuple[str, str]]:
    """(subject-name, subject-digest) of each attest job, as Actions would expand them.

    ``job_outputs`` are the publish step's ``$GITHUB_OUTPUT``; the publish job
    maps them to job outputs, the attest job's matrix reads those, and each
    matrix entry fills the attest action's inputs.
    """
    workflow = load("publish-staging.yml")
    publish, attest = workflow["jobs"]["publish"], workflow["jobs"]["attest"]
    steps_context = {"steps": {"publish": {"outputs": job_outputs}}}
    outputs = {key: resolve(value, steps_context) for key, value in publish["outputs"].items()}
    assert attest["needs"] == "publish"
    matrix = resolve(
        attest["strategy"]["matrix"]["image"], {"needs": {"publish": {"outputs": outputs}}}
    )
    [action] = [s for s in attest["steps"] if s.get("uses", "").startswith("actions/attest-")]
    assert action["uses"] == ATTEST_ACTION
    assert action["with"]["push-to-registry"] is True
    subjects: list[tuple[str, str]] = []
    for entry in matrix:
        context = {"matrix": {"image": entry}}
        name = resolve(action["with"]["subject-name"], context)
        subjects.append((name, resolve(action["with"]["subject-digest"], context)))
    return subjects


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("override", "registry_token", "cloud_token", "runner_host"),
    [
        ("", "", "", ""),
        ("1.2.0-staging.7", "ghcr-secret-value", "cloud-secret-value", ""),
        ("", "", "", "tcp://engine.internal:1234"),
    ],
)
def test_publish_staging_script(
    tmp_path: Path, override: str, registry_token: str, cloud_token: str, runner_host: str
) -> None:
    version = override or "1.2.0-staging.3"
    env = {
        "GITHUB_TOKEN": "gh-secret-value",
        "GHCR_REGISTRY_TOKEN": registry_token,
        "DAGGER_CLOUD_TOKEN": cloud_token,
        "VERSION_OVERRIDE": override,
        "_EXPERIMENTAL_DAGGER_RUNNER_HOST": runner_host,
    }
    summary = summary_for(version)
    argv, step_summary, outputs = run_publish_step(tmp_path, "publish-staging.yml", env, summary)

    constructor, function, args = split_call(argv)
    assert function == "publish-staging"
    assert flags(constructor) == {"--source": ".", "--repository": "metaboost/metaboost"}
    expected = {
        "--commit": "a" * 40,
        "--github-token": "env://GITHUB_TOKEN",
        "--registry-username": "octocat",
        "--json": "true",
    }
    if registry_token:
        expected["--registry-token"] = "env://GHCR_REGISTRY_TOKEN"
    if override:
        expected["--version-override"] = override
    assert flags(args) == expected
    known = surface()
    assert set(flags(constructor)) <= known["(constructor)"]
    assert set(flags(args)) <= known["publish-staging"]
    cache = step_summary.removeprefix(summary.markdown())
    assert cache.lstrip("\n").startswith("Engine cache: ")
    # Warm only on a persistent engine; Dagger Cloud gets the trace, not the cache.
    assert ("warm: a persistent engine" in cache) is bool(runner_host)
    assert ("cold: a new engine" in cache) is not bool(runner_host)
    assert ("DAGGER_CLOUD_TOKEN sent the trace" in cache) is bool(cloud_token)
    assert "secret-value" not in json.dumps(argv) + step_summary + outputs
    written = outputs_of(outputs)
    assert written["version"] == version
    images = [(row.image, row.digest) for row in summary.images]
    assert [(i["name"], i["digest"]) for i in json.loads(written["images"])] == images
    assert json.loads(written["digests"]) == {row.app: row.digest for row in summary.images}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_attestation_subjects_are_the_pushed_digests(tmp_path: Path) -> None:
    summary = summary_for("1.2.0-staging.3")
    env = {"GITHUB_TOKEN": "gh-secret-value"}
    _, _, outputs = run_publish_step(tmp_path, "publish-staging.yml", env, summary)
    subjects = attestation_subjects(outputs_of(outputs))
    # One per app: the image without a tag (push-to-registry needs that) and its digest.
    assert subjects == [(row.image, row.digest) for row in summary.images]
    assert len(subjects) == len(DEFAULT_APPS)


def test_only_the_attestation_job_may_sign() -> None:
    workflow = load("publish-staging.yml")
    attest = workflow["jobs"]["attest"]
    assert attest["permissions"] == {
        "id-token": "write",
        "attestations": "write",
        "packages": "write",
    }
    # It logs in to the image's registry with the same token the publish used.
    [login] = [s for s in attest["steps"] if "docker login" in s.get("run", "")]
    assert login["env"]["IMAGE"] == "${{ matrix.image.name }}"
    assert "--password-stdin" in login["run"]
    for name in ("ci.yml", "publish-main.yml"):
        for job, spec in load(name)["jobs"].items():
            assert "id-token" not in spec.get("permissions", {}), (name, job)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("name", ["publish-staging.yml", "publish-main.yml"])
def test_a_result_without_pushed_digests_gets_no_outputs(tmp_path: Path, name: str) -> None:
    # A dry run's "(not pushed)" must never become an attestation subject.
    bad = summary_for("1.2.0-staging.3", digest="(not pushed)")
    with pytest.raises(AssertionError, match="names an image without a") as failed:
        run_publish_step(tmp_path, name, {"GITHUB_TOKEN": "x" * 8}, bad)
    assert "images=" not in (tmp_path / "github_output").read_text()
    assert "::error::" in str(failed.value)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_publish_main_script(tmp_path: Path) -> None:
    env = {"GITHUB_TOKEN": "gh-secret-value", "GHCR_REGISTRY_TOKEN": ""}
    summary = summary_for("1.2.0")
    argv, step_summary, outputs = run_publish_step(tmp_path, "publish-main.yml", env, summary)
    constructor, function, args = split_call(argv)
    assert function == "publish-main"
    assert set(flags(constructor)) <= surface()["(constructor)"]
    assert flags(args) == {
        "--commit": "a" * 40,
        "--github-token": "env://GITHUB_TOKEN",
        "--registry-username": "octocat",
        "--json": "true",
    }
    assert set(flags(args)) <= surface()["publish-main"]
    assert step_summary.startswith("### Published 1.2.0")
    written = outputs_of(outputs)
    assert written["version"] == "1.2.0"
    assert json.loads(written["digests"]) == {row.app: row.digest for row in summary.images}
    assert [i["name"] for i in json.loads(written["images"])] == [r.image for r in summary.images]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_publish_script_fails_on_a_result_without_a_version(tmp_path: Path) -> None:
    bad = PublishSummary("", (), None)
    with pytest.raises(AssertionError, match="names no version"):
        run_publish_step(tmp_path, "publish-main.yml", {"GITHUB_TOKEN": "x" * 8}, bad)
