"""benchmarks/engine_build.py without an engine: its report and its refusals.

The builds themselves need a Dagger engine (GitHub Actions ``ci.yml`` runs the
script there); what it computes from the figures, and how it refuses bad input
or a missing engine, are checked here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS
from tests.support.dagger_offline import PlayedApps, StandInSession, args_of, execs
from tests.support.scripts import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "engine_build.py"
SAMPLE = SCRIPT.parents[1] / "sample"


engine_build = load_script("engine_build")


def _report(
    single: float,
    together: float,
    matrix: float,
    warm: float,
    sequential: float = 100.0,
    overlapped: float = 70.0,
) -> object:
    figures = engine_build.Figures
    return engine_build.Report(
        figures("1. one image alone", single, single * 2, 0.5),
        figures("2. 6 images, one session", together, together * 2, 0.6),
        figures("3. 6 sessions, one image each (sum)", matrix, None, 0.9),
        figures("4. scenario 2 again, nothing changed", warm, warm * 2, 0.3),
        longest_matrix_session=matrix / 5,
        sequential=figures("5. validate then build", sequential, sequential * 2, 0.4),
        overlapped=figures("6. validate while building", overlapped, overlapped * 2, 0.4),
    )


def test_goals_are_met_when_one_session_is_cheap_and_the_rerun_warm() -> None:
    report = _report(single=40.0, together=50.0, matrix=230.0, warm=3.0)
    assert report.goals() == {
        "one_session_at_most_1.5x_one_image": True,
        "warm_rerun_under_10_percent": True,
    }
    ratios = report.ratios()
    assert ratios["one_session_over_one_image_wall"] == pytest.approx(1.25)
    assert ratios["one_session_over_one_image_engine_cpu"] == pytest.approx(1.25)
    assert ratios["six_sessions_over_one_session_wall"] == pytest.approx(4.6)
    # No engine CPU for the matrix (engine not in a local container): no ratio.
    assert ratios["six_sessions_over_one_session_engine_cpu"] is None
    assert ratios["warm_over_cold_wall"] == pytest.approx(0.06)
    assert ratios["overlapped_over_sequential_publish_wall"] == pytest.approx(0.7)


def test_goals_are_not_met_past_their_bounds() -> None:
    report = _report(single=40.0, together=61.0, matrix=230.0, warm=7.0)
    assert report.goals() == {
        "one_session_at_most_1.5x_one_image": False,
        "warm_rerun_under_10_percent": False,
    }
    assert "goal warm_rerun_under_10_percent: NOT met" in report.text()


def test_json_and_markdown_carry_every_scenario() -> None:
    report = _report(single=40.0, together=50.0, matrix=230.0, warm=3.0)
    document = json.loads(json.dumps(report.to_dict()))
    assert [s["wall_s"] for s in document["scenarios"]] == [40.0, 50.0, 230.0, 3.0, 100.0, 70.0]
    assert document["scenarios"][2]["engine_cpu_s"] is None
    assert document["longest_matrix_session_s"] == pytest.approx(46.0)
    markdown = report.markdown()
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    # 6 scenarios + 6 ratios + 2 goals, plus the three header rows.
    assert len(rows) == 6 + 6 + 2 + 3
    assert "| 3. 6 sessions, one image each (sum) | 230.0 | n/a | 0.9 |" in rows
    assert "| 6. validate while building | 70.0 | 140.0 | 0.4 |" in rows
    assert "| overlapped_over_sequential_publish_wall | 0.70 |" in rows


async def test_the_dry_run_release_plans_n_0_and_refuses_every_write() -> None:
    ops = engine_build.PlannedRelease()
    planned = await ops.reserve(commit="a" * 40, base="0.1.0", override=None, dry_run=True)
    assert planned == "0.1.0-staging.0"
    assert await ops.present(version=planned) == []
    with pytest.raises(AssertionError, match="only makes dry runs"):
        await ops.reserve(commit="a" * 40, base="0.1.0", override=None, dry_run=False)
    with pytest.raises(AssertionError, match="moves nothing"):
        await ops.move_floating(version=planned, float_tag="staging")


def _run(*args: str, path: str = "/nonexistent") -> subprocess.CompletedProcess[str]:
    # PATH without docker: the script must find no engine, wherever this runs
    # (GitHub's runners have Docker; the builds must not start from a test).
    env = {"PATH": path, "HOME": str(Path.home())}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("output", [[], ["--json"], ["--markdown"]])
def test_without_an_engine_it_says_why_and_exits_2(output: list[str]) -> None:
    # ci.yml runs it with --markdown: the flag must parse (not a usage error).
    done = _run(*output)
    assert done.returncode == 2
    assert "cannot run: no docker on PATH" in done.stderr
    assert done.stdout == ""


def test_bad_apps_are_refused_before_looking_for_an_engine() -> None:
    done = _run("--apps", "api,nope")
    assert done.returncode == 2
    assert "Unknown app(s): nope" in done.stderr
    assert "cannot run" not in done.stderr


def test_a_source_without_package_json_is_refused(tmp_path: Path) -> None:
    done = _run("--source", str(tmp_path))
    assert done.returncode == 2
    assert "has no package.json" in done.stderr


@pytest.mark.parametrize("overlapped", [False, True])
async def test_both_publish_scenarios_build_validate_and_smoke_every_app(
    dagger_standin: StandInSession, overlapped: bool
) -> None:
    # With no engine: the stand-in answers every query (valid against the
    # schema) and plays the apps for the smoke test's probes.
    PlayedApps(dagger_standin)
    await engine_build.publish_dry_run(SAMPLE, DEFAULT_APPS, "f" * 32, overlapped=overlapped)
    builds = [c for c in dagger_standin.leaves("Container.sync") if args_of(c, "dockerBuild")]
    assert len(builds) == len(DEFAULT_APPS)
    validated = [c for c in dagger_standin.leaves("Container.sync") if execs(c)]
    assert ["npm", "ci", "--include=optional"] in [e for c in validated for e in execs(c)]
    written = [a for c in builds for a in args_of(c, "withNewFile")]
    assert all("benchmark " + "f" * 32 in a["contents"] for a in written)
    assert written
