""".ci/engine-checks: the engine job's proof that the module loads and runs.

The script needs an engine, so here it runs against a stand-in ``dagger``
that answers like the module would: the checks are its logic (every step
timed into the job summary, smoke's run ids compared, the dry run
recognised) and its ``dagger call`` lines (real functions and flags).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.workflows import REPO, flags, load, split_call, surface

SCRIPT = REPO / ".ci" / "engine-checks"

FAKE_DAGGER = """#!{python}
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_DAGGER_LOG"], "a") as log:
    log.write(json.dumps(argv) + "\\n")
if "smoke" in argv:
    count = os.path.join(os.environ["FAKE_DAGGER_DIR"], "smokes")
    n = len(open(count).read()) if os.path.exists(count) else 0
    open(count, "a").write("x")
    ids = os.environ["FAKE_SMOKE_IDS"].split(",")
    print("Smoke run " + ids[n] + ":" if ids[n] else "")  # as the smoke function says it
    print("ok  api: up")
elif "publish-staging" in argv:
    print("### Published 0.1.0-staging.0\\n\\nDry run: validated, built and smoke-tested.")
else:
    print("ok")
"""


def script_calls() -> list[list[str]]:
    """Every ``dagger ...`` command line of the script, continuation lines joined."""
    text = SCRIPT.read_text(encoding="utf-8").replace("\\\n", " ")
    calls = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["timed"] and words[2:3] == ["dagger"]:
            calls.append([w for w in words[3:] if w != "--progress=plain"])
    return calls


def test_the_engine_job_runs_the_checks_after_the_probe_and_before_the_tests() -> None:
    engine = load("ci.yml")["jobs"]["engine"]
    runs = [s.get("run", "") for s in engine["steps"]]
    probe_at = next(i for i, run in enumerate(runs) if run.startswith("dagger query"))
    checks_at = runs.index("bash .ci/engine-checks")
    tests_at = next(i for i, run in enumerate(runs) if "pytest -m engine" in run)
    assert probe_at < checks_at < tests_at
    assert engine["steps"][checks_at]["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}


def test_the_checks_call_real_functions_with_real_flags() -> None:
    known = surface()
    called: list[tuple[str, list[str]]] = []
    for argv in script_calls():
        if argv[0] == "functions" or argv == ["call", "--help"]:
            called.append((" ".join(argv), []))
            continue
        constructor, function, args = split_call(["--progress=plain", *argv])
        assert set(flags(constructor)) <= known["(constructor)"], argv
        assert set(flags(args)) <= known[function], argv
        called.append((function, args))
    assert [name for name, _ in called] == [
        "functions",
        "call --help",
        "rehearse",
        "rehearse",
        "smoke",
        "smoke",
        "publish-staging",
    ]
    assert [flags for name, flags in called if name == "rehearse"] == [
        ["--push-with=engine"],
        ["--push-with=skopeo"],
    ]
    assert "--dry-run" in called[-1][1]


def run_script(tmp_path: Path, smoke_ids: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dagger"
    fake.write_text(FAKE_DAGGER.format(python=sys.executable))
    fake.chmod(0o755)
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DAGGER_LOG": str(tmp_path / "calls.jsonl"),
        "FAKE_DAGGER_DIR": str(tmp_path),
        "FAKE_SMOKE_IDS": smoke_ids,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_TOKEN": "token-for-the-dry-run",
        "GITHUB_REPOSITORY": "acme/metaboost-ci",
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    return done, summary.read_text(encoding="utf-8")


def test_every_step_is_timed_into_the_job_summary(tmp_path: Path) -> None:
    done, summary = run_script(tmp_path, "aaa111,bbb222")
    assert done.returncode == 0, done.stderr
    steps = [line.split("|")[1].strip() for line in summary.splitlines() if line.endswith(" s |")]
    assert steps == [
        "functions",
        "call-help",
        "rehearse-engine",
        "rehearse-skopeo",
        "smoke-1",
        "smoke-2",
        "publish-staging-dry-run",
    ]
    assert "smoke run ids: `aaa111`, then `bbb222`" in summary
    logged = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert "--github-token=env://GITHUB_TOKEN" in logged[-1]
    assert "--repository=acme/metaboost-ci" in logged[-1]


@pytest.mark.parametrize("smoke_ids", ["same1,same1", ","])
def test_a_cached_or_silent_smoke_fails_the_job(tmp_path: Path, smoke_ids: str) -> None:
    done, _ = run_script(tmp_path, smoke_ids)
    assert done.returncode == 1
    assert "::error::" in done.stderr
