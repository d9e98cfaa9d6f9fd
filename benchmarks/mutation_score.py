"""Mutation score of the release core's safety-critical modules (mutmut 3).

How many deliberate bugs do the tests catch? For each module this copies the
package into a throwaway ``src/`` layout (mutmut 3 only understands ``src/``,
``lib/`` or a directory named like the project, not ``ci/``), lists the
module's mutants, takes a fixed-seed sample of up to ``--sample`` of them, and
runs only those, each against the module's own fast test files (``MODULES``).
It reports killed / sampled per module: a figure, not a gate, so it is not
part of ``.ci/run``; run it before a change to one of these modules lands::

    .venv/bin/pip install -q -e '.[mutation]'
    nice -n 10 .venv/bin/python benchmarks/mutation_score.py --sample 60
    .venv/bin/python benchmarks/mutation_score.py --modules tags,redact --survivors

A mutant that cannot change behaviour (an equivalent mutant) is marked in the
source with ``# pragma: no mutate`` and a one-line reason; such lines are not
mutated at all, so they are not in the population either.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "metaboost_ci"


@dataclass(frozen=True)
class Module:
    """One module under test: its source (inside the package) and the tests that exercise it."""

    source: str
    tests: tuple[str, ...]


MODULES: dict[str, Module] = {
    "versions": Module(
        "core/versions.py", ("tests/test_core_versions.py", "tests/test_versions_messages.py")
    ),
    "tags": Module("core/tags.py", ("tests/test_tags_table.py",)),
    "redact": Module(
        "core/redact.py", ("tests/test_redact_table.py", "tests/test_core_secrets.py")
    ),
    "links": Module(
        "core/registry/links.py", ("tests/test_links_table.py", "tests/test_registry_units.py")
    ),
    "plan": Module(
        "core/flows/plan.py",
        ("tests/test_plan_edges.py", "tests/test_flows_promote.py", "tests/test_flows_units.py"),
    ),
    "reserve": Module(
        "core/flows/reserve.py", ("tests/test_reserve_in_full.py", "tests/test_flows_reserve.py")
    ),
    "promote": Module("core/flows/promote.py", ("tests/test_flows_promote.py",)),
}
# What the tests need beside tests/ (registry configurations, the sample monorepo).
ALSO_COPY = ("infra", "sample", "dagger.json")
# mutmut's verdicts that count as caught: a mutant that hangs is caught too.
CAUGHT = frozenset({"killed", "timeout"})
_RESULT_LINE = re.compile(r"^\s+(\S+__mutmut_\d+): (.+?)\s*$")


class UsageError(Exception):
    """Bad arguments: the message names the problem and the fix."""


@dataclass(frozen=True)
class Options:
    modules: tuple[str, ...]
    sample: int
    seed: int
    jobs: int
    workdir: Path | None
    as_json: bool
    survivors: bool


def parse_args(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="mutation_score.py",
        description="Mutation score per module of the release core (mutmut, sampled).",
    )
    parser.add_argument(
        "--modules",
        default=",".join(MODULES),
        help=f"comma-separated, of: {', '.join(MODULES)} (default: all)",
    )
    parser.add_argument("--sample", type=int, default=60, help="mutants per module (default 60)")
    parser.add_argument("--seed", type=int, default=15, help="sampling seed (default 15)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument(
        "--workdir", type=Path, help="keep the layouts here (for mutmut show or browse)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--survivors", action="store_true", help="print each surviving mutant's diff on stderr"
    )
    args = parser.parse_args(argv)
    names = tuple(m.strip() for m in str(args.modules).split(",") if m.strip())
    unknown = [m for m in names if m not in MODULES]
    if unknown or not names:
        raise UsageError(
            f"Unknown module(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(MODULES)}."
        )
    if args.sample < 1 or args.jobs < 1:
        raise UsageError("--sample and --jobs must be at least 1, e.g. --sample 60 --jobs 1.")
    return Options(
        names, args.sample, args.seed, args.jobs, args.workdir, bool(args.json), args.survivors
    )


def sample_mutants(names: Sequence[str], size: int, *, seed: int, module: str) -> list[str]:
    """Up to ``size`` of ``names``, the same ones for the same seed, module and population."""
    population = sorted(names)
    if len(population) <= size:
        return population
    # Seeded per module: adding a module or a mutant elsewhere does not reshuffle this one.
    return sorted(random.Random(f"{seed}:{module}").sample(population, size))


def parse_results(text: str) -> dict[str, str]:
    """``mutmut results --all true`` output: mutant name -> verdict."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _RESULT_LINE.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


@dataclass(frozen=True)
class Score:
    module: str
    population: int
    verdicts: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def sampled(self) -> int:
        return len(self.verdicts)

    @property
    def caught(self) -> int:
        return sum(v in CAUGHT for v in self.verdicts.values())

    @property
    def percent(self) -> float:
        return 100.0 * self.caught / self.sampled if self.sampled else 0.0

    @property
    def survivors(self) -> list[str]:
        return sorted(n for n, v in self.verdicts.items() if v not in CAUGHT)

    def to_dict(self) -> dict[str, object]:
        return {
            "module": self.module,
            "population": self.population,
            "sampled": self.sampled,
            "caught": self.caught,
            "percent": round(self.percent, 1),
            "verdicts": dict(Counter(self.verdicts.values())),
            "survivors": self.survivors,
        }


def render_table(scores: Sequence[Score]) -> str:
    rows = [("module", "caught", "sampled", "of", "score", "not caught")]
    for s in scores:
        missed = Counter(v for v in s.verdicts.values() if v not in CAUGHT)
        rows.append(
            (
                s.module,
                str(s.caught),
                str(s.sampled),
                str(s.population),
                f"{s.percent:.0f}%",
                ", ".join(f"{n} {v}" for v, n in sorted(missed.items())) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    )


# ---------------------------------------------------------------- running mutmut


def _layout(workdir: Path, name: str, module: Module) -> Path:
    """A src/ copy of the package with tests and a [mutmut] setup.cfg for ``module``."""
    root = workdir / name
    src = root / "src" / PACKAGE
    # mutmut's cached verdicts and test mapping would outlive a change to the tests.
    shutil.rmtree(root / "mutants", ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(REPO / "ci" / PACKAGE, src, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(root / "tests", ignore_errors=True)
    shutil.copytree(REPO / "tests", root / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    for extra in ALSO_COPY:
        if (REPO / extra).is_dir():
            shutil.copytree(REPO / extra, root / extra, dirs_exist_ok=True)
        elif (REPO / extra).exists():
            shutil.copy2(REPO / extra, root / extra)
    # pytest's settings (asyncio mode, markers) come with the project's pyproject.toml;
    # mutmut reads setup.cfg because that pyproject has no [tool.mutmut].
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    lines = [
        "[mutmut]",
        f"source_paths = src/{PACKAGE}",
        f"only_mutate = src/{PACKAGE}/{module.source}",
        "also_copy =",
        *(f"    {extra}" for extra in ALSO_COPY),
        "pytest_add_cli_args_test_selection =",
        *(f"    {test}" for test in module.tests),
        "pytest_add_cli_args =",
        "    -p",
        "    no:cacheprovider",
        "    -q",
    ]
    (root / "setup.cfg").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


# mutmut has no "list" command; its own generator names the mutants exactly as
# `mutmut run` will (the [mutation] extra pins the version). It reads its
# configuration from the working directory, hence a child process there.
_LIST_MUTANTS = """
import json, sys
from pathlib import Path
from mutmut.mutation.file_mutation import mutate_file_contents
from mutmut.utils.format_utils import get_mutant_name
path = Path(sys.argv[1])
mutated = mutate_file_contents(str(path), path.read_text(encoding="utf-8"))
print(json.dumps([get_mutant_name(path, name) for name in mutated.mutant_names]))
"""


def list_mutants(root: Path, module: Module) -> list[str]:
    """Every mutant mutmut makes of ``module`` (lines under a pragma excluded)."""
    relative = Path("src") / PACKAGE / module.source
    done = subprocess.run(
        [sys.executable, "-c", _LIST_MUTANTS, str(relative)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    names: list[str] = json.loads(done.stdout)
    return names


def _mutmut(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("mutmut")), *args]
    return subprocess.run(
        command, cwd=root, capture_output=True, text=True, check=False, env=os.environ.copy()
    )


def score_module(name: str, options: Options, workdir: Path) -> Score:
    module = MODULES[name]
    root = _layout(workdir, name, module)
    population = list_mutants(root, module)
    chosen = sample_mutants(population, options.sample, seed=options.seed, module=name)
    print(f"{name}: {len(chosen)} of {len(population)} mutants ...", file=sys.stderr, flush=True)
    run = _mutmut(root, "run", "--max-children", str(options.jobs), *chosen)
    results = parse_results(_mutmut(root, "results", "--all", "true").stdout)
    verdicts = {m: results.get(m, "not run") for m in chosen}
    if run.returncode != 0 and not any(v in CAUGHT for v in verdicts.values()):
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-30:])
        raise RuntimeError(f"mutmut run failed for {name} in {root}:\n{tail}")
    score = Score(name, len(population), verdicts)
    if options.survivors:
        for mutant in score.survivors:
            print(_mutmut(root, "show", mutant).stdout, file=sys.stderr)
    return score


def main(argv: Sequence[str] | None = None) -> int:
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if shutil.which("mutmut", path=str(Path(sys.executable).parent)) is None:
        print(
            "error: mutmut is not installed in this environment; "
            "run .venv/bin/pip install -e '.[mutation]'.",
            file=sys.stderr,
        )
        return 2
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="metaboost-mutation-"))
    try:
        scores = [score_module(name, options, workdir.resolve()) for name in options.modules]
    finally:
        if options.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if options.as_json:
        print(json.dumps({"seed": options.seed, "modules": [s.to_dict() for s in scores]}))
    else:
        print(render_table(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
