"""benchmarks/mutation_score.py without running mutmut: arguments, sampling, layout, report.

The mutation runs themselves take minutes per module (README, development);
what the script decides around them is checked here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scripts import load_script

REPO = Path(__file__).resolve().parents[1]


ms = load_script("mutation_score")


def test_defaults_cover_the_safety_critical_modules() -> None:
    options = ms.parse_args([])
    assert options.modules == ("versions", "tags", "redact", "links", "plan", "reserve", "promote")
    assert (options.sample, options.seed, options.jobs) == (60, 15, 1)
    assert options.workdir is None
    assert not options.as_json


def test_modules_are_chosen_by_name() -> None:
    options = ms.parse_args(["--modules", " tags, redact ", "--sample", "5", "--json"])
    assert options.modules == ("tags", "redact")
    assert options.sample == 5
    assert options.as_json


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param(["--modules", "tags,nope"], "Unknown module(s) nope; choose from", id="name"),
        pytest.param(["--modules", ","], "Unknown module(s) (none given)", id="none"),
        pytest.param(["--sample", "0"], "--sample and --jobs must be at least 1", id="sample"),
        pytest.param(["--jobs", "0"], "--sample and --jobs must be at least 1", id="jobs"),
    ],
)
def test_bad_arguments_exit_2_saying_what_to_do(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ms.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {says}")
    assert err.count("\n") == 1


def test_every_module_and_test_file_it_names_exists() -> None:
    for module in ms.MODULES.values():
        assert (REPO / "ci" / "metaboost_ci" / module.source).is_file(), module
        for test in module.tests:
            assert (REPO / test).is_file(), test


NAMES = [f"metaboost_ci.core.tags.x_f__mutmut_{i}" for i in range(1, 101)]


def test_the_sample_is_fixed_by_seed_and_module_and_capped() -> None:
    first = ms.sample_mutants(NAMES, 10, seed=15, module="tags")
    assert first == ms.sample_mutants(list(reversed(NAMES)), 10, seed=15, module="tags")
    assert len(first) == len(set(first)) == 10
    assert first == sorted(first)
    assert set(first) <= set(NAMES)
    assert first != ms.sample_mutants(NAMES, 10, seed=16, module="tags")
    assert first != ms.sample_mutants(NAMES, 10, seed=15, module="redact")


def test_a_small_population_is_taken_whole() -> None:
    assert ms.sample_mutants(NAMES[:3][::-1], 10, seed=1, module="tags") == sorted(NAMES[:3])


def test_results_are_read_from_mutmut_s_listing() -> None:
    listing = "\n".join(
        [
            "some progress line",
            "    metaboost_ci.core.tags.x_f__mutmut_1: killed",
            "    metaboost_ci.core.tags.x_f__mutmut_2: survived",
            "    metaboost_ci.core.tags.x_f__mutmut_3: no tests",
            "    metaboost_ci.core.tags.xǁTagsǁm__mutmut_4: timeout  ",
            "    not_a_mutant: killed",
        ]
    )
    assert ms.parse_results(listing) == {
        "metaboost_ci.core.tags.x_f__mutmut_1": "killed",
        "metaboost_ci.core.tags.x_f__mutmut_2": "survived",
        "metaboost_ci.core.tags.x_f__mutmut_3": "no tests",
        "metaboost_ci.core.tags.xǁTagsǁm__mutmut_4": "timeout",
    }


def _score() -> object:
    return ms.Score(
        "tags",
        44,
        {"m1": "killed", "m2": "timeout", "m3": "survived", "m4": "no tests", "m5": "killed"},
    )


def test_a_score_counts_timeouts_as_caught_and_lists_the_rest() -> None:
    score = _score()
    assert score.sampled == 5
    assert score.caught == 3
    assert score.percent == 60.0
    assert score.survivors == ["m3", "m4"]
    assert score.to_dict() == {
        "module": "tags",
        "population": 44,
        "sampled": 5,
        "caught": 3,
        "percent": 60.0,
        "verdicts": {"killed": 2, "timeout": 1, "survived": 1, "no tests": 1},
        "survivors": ["m3", "m4"],
    }
    assert ms.Score("x", 0).percent == 0.0


def test_the_table_has_one_row_per_module() -> None:
    table = ms.render_table([_score(), ms.Score("links", 2, {"a": "killed", "b": "killed"})])
    assert table.splitlines() == [
        "module  caught  sampled  of  score  not caught",
        "tags    3       5        44  60%    1 no tests, 1 survived",
        "links   2       2        2   100%   -",
    ]


def test_the_layout_is_a_src_tree_with_the_module_s_tests(tmp_path: Path) -> None:
    root = ms._layout(tmp_path, "redact", ms.MODULES["redact"])
    assert (root / "src" / "metaboost_ci" / "core" / "redact.py").is_file()
    assert (root / "tests" / "support" / "release.py").is_file()
    assert (root / "infra").is_dir()
    assert (root / "pyproject.toml").read_text() == (REPO / "pyproject.toml").read_text()
    setup = (root / "setup.cfg").read_text()
    assert "only_mutate = src/metaboost_ci/core/redact.py\n" in setup
    assert "    tests/test_redact_table.py\n    tests/test_core_secrets.py\n" in setup
    # A second layout over the first starts from fresh copies and no mutmut cache.
    (root / "src" / "metaboost_ci" / "stale.py").write_text("")
    (root / "mutants").mkdir()
    ms._layout(tmp_path, "redact", ms.MODULES["redact"])
    assert not (root / "src" / "metaboost_ci" / "stale.py").exists()
    assert not (root / "mutants").exists()


def test_the_readme_s_commands_parse_and_the_extra_pins_mutmut() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    lines = [
        line.split("  #")[0].split()
        for line in readme.splitlines()
        if "benchmarks/mutation_score.py --" in line
    ]
    assert len(lines) == 2
    for words in lines:
        ms.parse_args(words[words.index("benchmarks/mutation_score.py") + 1 :])
    assert ".venv/bin/pip install -q -e '.[mutation]'" in readme
    assert 'mutation = ["mutmut==3.8.1"]' in (REPO / "pyproject.toml").read_text()
