"""The GitHub Actions workflows: linted, locked down, and their scripts run for real.

- actionlint and ``zizmor --offline`` report nothing (skipped when the tools
  are missing, except in CI, where missing tools fail).
- Structure: least privilege, every action pinned by commit SHA, no
  ``${{ }}`` expression in any script, the triggers and concurrency asked for.
- The publish steps' bash scripts run under bash with a stand-in ``dagger``
  that records its arguments and prints a real ``PublishSummary``: the
  arguments must exist on the module (its surface snapshot), secrets travel
  only as ``env://`` references, the summary lands in ``$GITHUB_STEP_SUMMARY``
  (with whether the engine's cache was warm or cold) and the version and each
  app's image and digest in ``$GITHUB_OUTPUT``; the attestation job's
  subjects, resolved from those outputs, are the pushed digests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from metaboost_ci.cli.dev import lockfile_command
from metaboost_ci.core.apps import DEFAULT_APPS
from metaboost_ci.core.flows import ImageRow, PublishSummary
from metaboost_ci.engine.publish import summary_document

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
SURFACE = REPO / "tests" / "snapshots" / "dagger_surface.json"
DAGGER_ACTION = "dagger/dagger-for-github@27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77"  # v8.4.1
DAGGER_VERSION = "0.21.11"
ATTEST_ACTION = "actions/attest-build-provenance@96278af6caaf10aea03fd8d33a09a777ca52d62f"  # v3.2.0
README = REPO / "README.md"


def readme_command(prefix: str) -> str:
    """The README's one command line that starts with ``prefix`` (in a code block)."""
    lines = [
        line.split("  #")[0].strip()
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith(prefix)
    ]
    assert len(set(lines)) == 1, f"README: expected one command starting {prefix!r}: {lines}"
    return lines[0]


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


# ------------------------------------------------------------------- linters


def linter(name: str) -> str:
    """The tool next to this Python (the venv) or on PATH; skip or fail when absent."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.is_file() else shutil.which(name)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is not installed; it comes with the [test] extra.")
        pytest.skip(f"{name} is not installed (pip install -e '.[test]'); runs in CI")
    return found


def test_actionlint_reports_nothing() -> None:
    tool = linter("actionlint")
    files = [str(WORKFLOWS / name) for name in all_workflows()]
    result = subprocess.run([tool, *files], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_zizmor_reports_nothing() -> None:
    tool = linter("zizmor")
    result = subprocess.run(
        [tool, "--offline", "--no-progress", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout


# ----------------------------------------------------------------- structure


def test_the_three_workflows_exist() -> None:
    assert all_workflows() == ["ci.yml", "publish-main.yml", "publish-staging.yml"]


@pytest.mark.parametrize("name", ["ci.yml", "publish-main.yml", "publish-staging.yml"])
def test_every_action_is_pinned_by_commit_sha_with_its_version(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{ref}: say the version"


@pytest.mark.parametrize("name", ["ci.yml", "publish-main.yml", "publish-staging.yml"])
def test_checkouts_keep_no_credentials_and_dagger_is_pinned(name: str) -> None:
    workflow = load(name)
    for s in steps(workflow):
        uses = s.get("uses", "")
        if uses.startswith("actions/checkout@"):
            assert s["with"]["persist-credentials"] is False
        if uses.startswith("dagger/dagger-for-github@"):
            assert uses == DAGGER_ACTION
            assert s["with"]["version"] == DAGGER_VERSION


@pytest.mark.parametrize("name", ["ci.yml", "publish-main.yml", "publish-staging.yml"])
def test_no_expression_reaches_a_script(name: str) -> None:
    # Values reach scripts through env: an expression expanded into a script
    # is a script injection waiting for the right input.
    for s in steps(load(name)):
        assert "${{" not in s.get("run", ""), s.get("name")


@pytest.mark.parametrize(
    ("name", "job"), [("publish-staging.yml", "publish"), ("publish-main.yml", "promote")]
)
def test_publish_permissions_are_least_privilege(name: str, job: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    assert workflow["jobs"][job]["permissions"] == {"contents": "write", "packages": "write"}
    assert workflow["jobs"][job]["outputs"] == {
        key: f"${{{{ steps.publish.outputs.{key} }}}}" for key in ("version", "images", "digests")
    }
    # Only the attestation job may sign (and nothing else in these workflows).
    for other, spec in workflow["jobs"].items():
        if other != "attest":
            assert "id-token" not in spec.get("permissions", {}), other
    publish = step(workflow, "publish")
    assert publish["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert publish["env"]["GHCR_REGISTRY_TOKEN"] == "${{ secrets.GHCR_REGISTRY_TOKEN }}"


def test_staging_triggers_and_override_input() -> None:
    workflow = load("publish-staging.yml")
    assert workflow["on"]["push"] == {"branches": ["staging"]}
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"version_override"}
    assert inputs["version_override"]["required"] is False
    assert step(workflow, "publish")["env"]["VERSION_OVERRIDE"] == "${{ inputs.version_override }}"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("ref", "ok"), [("refs/heads/staging", True), ("refs/heads/develop", False)]
)
def test_staging_publishes_only_from_the_staging_branch(ref: str, ok: bool) -> None:
    job = load("publish-staging.yml")["jobs"]["publish"]
    guard = job["steps"][0]
    assert guard["name"] == "Only from the staging branch"  # before anything else runs
    result = run_guard(guard["run"], ref)
    assert (result.returncode == 0) is ok
    if not ok:
        assert "::error::Publish (staging) runs on the staging branch only" in result.stdout


def run_guard(script: str, ref: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script],
        env={"PATH": os.environ["PATH"], "GITHUB_REF": ref},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("ref", "ok"), [("refs/heads/main", True), ("refs/heads/staging", False)])
def test_main_publishes_only_from_the_main_branch(ref: str, ok: bool) -> None:
    job = load("publish-main.yml")["jobs"]["promote"]
    guard = job["steps"][0]
    assert guard["name"] == "Only from the main branch"  # before anything else runs
    result = run_guard(guard["run"], ref)
    assert (result.returncode == 0) is ok
    if not ok:
        assert "::error::Publish (main) runs on the main branch only" in result.stdout


def test_main_runs_one_at_a_time_never_cancelled() -> None:
    workflow = load("publish-main.yml")
    # On a push to main, or by hand (workflow_dispatch, no inputs; the guard above).
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert workflow["concurrency"] == {
        "group": "publish-main-${{ github.repository }}",
        "cancel-in-progress": False,
    }


def test_ci_runs_the_readme_command_then_the_engine_tests() -> None:
    workflow = load("ci.yml")
    assert set(workflow["on"]) == {"pull_request", "push"}
    tests = workflow["jobs"]["tests"]["steps"]
    # Exactly the newcomer's test command, as the README writes it.
    test_command = readme_command("python3 -m venv .venv && ")
    assert test_command.endswith(".venv/bin/pytest")
    assert [s["run"] for s in tests if "pytest" in s.get("run", "")] == [test_command]
    assert any("docker-registry skopeo" in s.get("run", "") for s in tests)
    python = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/setup-python@")]
    assert python
    assert all(s["with"]["python-version"] == "3.11" for s in python)
    engine = workflow["jobs"]["engine"]
    assert engine["needs"] == "tests"
    runs = [s.get("run", "") for s in engine["steps"]]
    dagger_at = next(i for i, s in enumerate(engine["steps"]) if s.get("uses") == DAGGER_ACTION)
    # The engine must answer before the tests (else they would skip and pass).
    probe_at = next(i for i, run in enumerate(runs) if run.startswith("dagger query"))
    engine_command = readme_command(".venv/bin/pytest -m engine")
    tests_at = next(i for i, run in enumerate(runs) if run.endswith(engine_command + "\n"))
    assert dagger_at < probe_at < tests_at
    # Then issue 4's benchmark, its figures into the job summary (the flag is
    # checked against the script in tests/test_engine_benchmark_script.py).
    bench_at = next(i for i, run in enumerate(runs) if "benchmarks/engine_build.py" in run)
    assert tests_at < bench_at
    assert runs[bench_at].split() == [
        ".venv/bin/python",
        "benchmarks/engine_build.py",
        "--markdown",
        ">>",
        '"$GITHUB_STEP_SUMMARY"',
    ]
    # Last, the offline GraphQL checks against the engine's own schema: the
    # variable the checks read names the folder the schema is written to.
    schema_step = next(
        s for s in engine["steps"] if "tests.support.engine_schema" in s.get("run", "")
    )
    assert runs.index(schema_step["run"]) > bench_at
    variable = "METABOOST_DAGGER_SCHEMA_DIR"
    assert variable in schema_step["env"]
    assert schema_step["run"].splitlines() == [
        f'.venv/bin/python -m tests.support.engine_schema "${variable}"',
        ".venv/bin/pytest tests/test_engine_*.py",
    ]
    assert any("docker-registry skopeo" in s.get("run", "") for s in engine["steps"])


# -------------------------------------------- the publish scripts, for real

# Prints what ``dagger call ... --json`` prints: the summary's JSON document.
FAKE_DAGGER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_DAGGER_LOG"], "w") as log:
    json.dump(sys.argv[1:], log)
sys.stdout.write(os.environ["FAKE_DAGGER_OUTPUT"])
"""


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


def test_bump_version_lockfile_call_matches_the_module() -> None:
    argv = lockfile_command("dagger", "github.com/o/metaboost-ci@v1")
    assert argv[:4] == ["dagger", "call", "-m", "github.com/o/metaboost-ci@v1"]
    rest = argv[4:]
    at = next(i for i, a in enumerate(rest) if not a.startswith("--"))
    assert set(flags(rest[:at])) <= surface()["(constructor)"]
    assert rest[at] == "lockfile"
    assert "lockfile" in surface()
    assert rest[at + 1 :] == ["export", "--path=package-lock.json"]


# ------------------------------------------------- the README's own examples


def readme_snippets(prefix: str, *, inline: bool = True) -> list[str]:
    """Commands in README.md starting with ``prefix``: code-block lines, and inline code.

    Left out: bare mentions (``dagger call``) and elisions (``...``, ``FUNCTION``).
    """
    text = README.read_text(encoding="utf-8").replace("\\\n", " ")
    found = [line.split("  #")[0].strip() for line in text.splitlines() if line.startswith(prefix)]
    if inline:
        found += [m.group(1) for m in re.finditer(rf"`({re.escape(prefix)}[^`]*)`", text)]
    return [f for f in found if len(f.split()) > 2 and "..." not in f and "FUNCTION" not in f]


def test_every_readme_dagger_call_names_real_functions_and_flags() -> None:
    known = surface()
    data = json.loads(SURFACE.read_text(encoding="utf-8"))
    functions = data["objects"][data["main_object"]]["functions"]
    calls = readme_snippets("dagger call")
    assert len(calls) >= 15, calls
    seen: set[str] = set()
    for call in calls:
        words = call.replace('"$(git rev-parse HEAD)"', "SHA").replace(
            "$(git rev-parse HEAD)", "SHA"
        )
        argv = words.split()[2:]
        if argv[:1] == ["-m"]:
            argv = argv[2:]
        at = next(i for i, a in enumerate(argv) if not a.startswith("-"))
        constructor, function, rest = argv[:at], argv[at], argv[at + 1 :]
        assert {a.split("=", 1)[0] for a in constructor} <= known["(constructor)"], call
        assert function in known, f"README: no function {function!r}: {call}"
        given: set[str] = set()
        for word in rest:
            if not word.startswith("--"):
                break  # a chained call on the result (export) or -o's value
            given.add(word.split("=", 1)[0])
        assert given <= known[function], f"README: unknown flag in {call}"
        required = {a["flag"] for a in functions[function]["args"] if not a["optional"]}
        assert required <= given, f"README: {call} lacks {required - given}"
        seen.add(function)
    # Every function has at least one example.
    assert seen == set(known) - {"(constructor)"}


def test_every_readme_command_line_parses() -> None:
    from metaboost_ci.cli.main import build_parser

    # Full examples (code blocks); inline mentions name a command and a flag at most.
    lines = readme_snippets("metaboost-ci ", inline=False)
    assert len(lines) >= 12, lines
    commands: set[str] = set()
    for line in lines:
        argv = shlex.split(line.replace('"$(git rev-parse HEAD)"', "SHA"))[1:]
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"README: metaboost-ci cannot parse: {line}")
        commands.add(args.command)
    assert {"reserve", "discover", "verify", "move-floating", "release", "promote"} <= commands
    assert {"summary", "bump-version", "sync"} <= commands
    # Inline mentions: the command named must exist (its --help exits 0, not 2).
    for mention in readme_snippets("metaboost-ci "):
        name = mention.split()[1]
        if name.startswith("-"):
            continue  # a full example, checked above
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args([name, "--help"])
        assert done.value.code == 0, f"README mentions an unknown command: {mention}"


def test_ci_run_runs_the_readme_test_command_verbatim() -> None:
    # CI runs `bash .ci/run`; it must run the newcomer's test command, not a cousin of it.
    script = (REPO / ".ci" / "run").read_text()
    test_command = readme_command("python3 -m venv .venv && ")
    assert test_command in script.splitlines()
    assert "exit 1" in script.split(test_command, 1)[1], "pytest's exit 5 must fail CI"
