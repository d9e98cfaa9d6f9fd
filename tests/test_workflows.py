"""The GitHub Actions workflows: linted, locked down, and their scripts run for real.

- actionlint and ``zizmor --offline`` report nothing (skipped when the tools
  are missing, except in CI, where missing tools fail).
- Structure: least privilege, every action pinned by commit SHA, no
  ``${{ }}`` expression in any script, the triggers and concurrency asked for.
- The branch guards run under bash; the README's commands match the module.

- The rollback workflow's two scripts run with a stand-in ``metaboost-ci``
  that checks its arguments with the real parser.

The publish steps' own scripts run in tests/test_workflow_publish_scripts.py.
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

import pytest

from metaboost_ci.devtools.bump import lockfile_command
from tests.support.workflows import (
    DAGGER_ACTION,
    REPO,
    SURFACE,
    WORKFLOWS,
    all_workflows,
    flags,
    load,
    step,
    steps,
    surface,
)

DAGGER_VERSION = "0.21.11"
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


def test_the_four_workflows_exist() -> None:
    assert all_workflows() == ["ci.yml", "publish-main.yml", "publish-staging.yml", "rollback.yml"]


@pytest.mark.parametrize("name", all_workflows())
def test_every_action_is_pinned_by_commit_sha_with_its_version(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{ref}: say the version"


@pytest.mark.parametrize("name", all_workflows())
def test_checkouts_keep_no_credentials_and_dagger_is_pinned(name: str) -> None:
    workflow = load(name)
    for s in steps(workflow):
        uses = s.get("uses", "")
        if uses.startswith("actions/checkout@"):
            assert s["with"]["persist-credentials"] is False
        if uses.startswith("dagger/dagger-for-github@"):
            assert uses == DAGGER_ACTION
            assert s["with"]["version"] == DAGGER_VERSION


@pytest.mark.parametrize("name", all_workflows())
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


# ------------------------------------------------ the rollback workflow

# A stand-in metaboost-ci: checks its arguments with the real parser, records
# them, and answers with the text (and exit code) the test asks for.
FAKE_CLI = """#!{python}
import json, os, sys
from metaboost_ci.cli.main import build_parser
build_parser().parse_args(sys.argv[1:])
with open(os.environ["FAKE_CLI_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.stdout.write(os.environ["FAKE_CLI_OUTPUT"])
sys.exit(int(os.environ.get("FAKE_CLI_EXIT", "0")))
"""


def run_rollback_step(
    tmp_path: Path, step_name: str, env: dict[str, str]
) -> tuple[int, list[list[str]], str]:
    """Run one step of rollback.yml; return (exit code, each metaboost-ci argv, summary)."""
    script = next(s for s in steps(load("rollback.yml")) if s["name"] == step_name)["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "metaboost-ci"
    fake.write_text(FAKE_CLI.format(python=sys.executable))
    fake.chmod(0o755)
    summary, log = tmp_path / "summary.md", tmp_path / "argv.jsonl"
    summary.write_text("")
    log.write_text("")
    (tmp_path / "runner").mkdir(exist_ok=True)
    full_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_CLI_LOG": str(log),
        "RUNNER_TEMP": str(tmp_path / "runner"),
        "GITHUB_REPOSITORY": "metaboost/metaboost",
        "GITHUB_STEP_SUMMARY": str(summary),
        "FAKE_CLI_OUTPUT": "",
        **env,
    }
    result = subprocess.run(
        ["bash", "-e", "-c", script], env=full_env, capture_output=True, text=True, check=False
    )
    argvs = [json.loads(line) for line in log.read_text().splitlines()]
    return result.returncode, argvs, summary.read_text()


def test_rollback_inputs_permissions_and_concurrency() -> None:
    workflow = load("rollback.yml")
    assert set(workflow["on"]) == {"workflow_dispatch"}
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert inputs["version"]["required"] is True
    assert inputs["float_tag"]["options"] == ["latest", "staging"]
    assert inputs["float_tag"]["default"] == "latest"
    assert inputs["dry_run"]["type"] == "boolean"
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["rollback"]
    assert job["permissions"] == {"contents": "write", "packages": "write"}
    # latest: publish-main's own group (never beside a promotion); staging: publish-staging's.
    main_group = load("publish-main.yml")["concurrency"]["group"]
    staging_group = load("publish-staging.yml")["concurrency"]["group"]
    group = workflow["concurrency"]["group"]
    assert "format('publish-main-{0}', github.repository)" in group
    assert "format('publish-staging-{0}', github.repository)" in group
    assert main_group == "publish-main-${{ github.repository }}"
    assert staging_group == "publish-staging-${{ github.repository }}"
    assert workflow["concurrency"]["cancel-in-progress"] is False
    rollback = step(workflow, "rollback")
    assert rollback["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert rollback["env"]["VERSION"] == "${{ inputs.version }}"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("version", "float_tag", "dry_run"),
    [("1.2.0", "latest", "false"), ("1.3.0-staging.2", "staging", "true")],
)
def test_rollback_script(tmp_path: Path, version: str, float_tag: str, dry_run: str) -> None:
    said = f"Rolled {float_tag} back to {version} (0123456789ab).\n  api: 1.3.0 -> {version}\n"
    env = {
        "GITHUB_TOKEN": "gh-secret-value",
        "GHCR_REGISTRY_TOKEN": "",
        "VERSION": version,
        "FLOAT_TAG": float_tag,
        "DRY_RUN": dry_run,
        "FAKE_CLI_OUTPUT": said,
    }
    code, argvs, summary = run_rollback_step(tmp_path, "metaboost-ci rollback", env)
    assert code == 0
    expected = ["--repository", "metaboost/metaboost", "rollback", "--to", version]
    expected += ["--float-tag", float_tag] + (["--dry-run"] if dry_run == "true" else [])
    assert argvs == [expected]
    assert "secret-value" not in json.dumps(argvs)
    assert summary.startswith(f"### Rollback of {float_tag} to {version}\n\n```\n{said}```\n")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("status_exit", "dry_run", "job_exit"),
    [(0, "false", 0), (1, "false", 1), (1, "true", 0), (2, "true", 2)],
)
def test_rollback_status_step(
    tmp_path: Path, status_exit: int, dry_run: str, job_exit: int
) -> None:
    # After a real rollback an inconsistency fails the run; a dry run only reports it.
    env = {
        "DRY_RUN": dry_run,
        "FAKE_CLI_OUTPUT": "### Release status: consistent\n",
        "FAKE_CLI_EXIT": str(status_exit),
    }
    code, argvs, summary = run_rollback_step(tmp_path, "metaboost-ci status", env)
    assert code == job_exit
    assert argvs == [["--repository", "metaboost/metaboost", "status", "--markdown"]]
    assert summary == "### Release status: consistent\n"


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
