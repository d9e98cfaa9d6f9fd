"""Six images in one Dagger session versus six separate sessions (the old matrix),
and publish-staging's critical path: validate, then build, versus both at once.

Run where a Dagger engine can run (Docker, network to pull node:24):

    .venv/bin/python benchmarks/engine_build.py            # the sample monorepo
    .venv/bin/python benchmarks/engine_build.py --source ../metaboost
    .venv/bin/python benchmarks/engine_build.py --json      # for machines
    .venv/bin/python benchmarks/engine_build.py --markdown  # a CI job summary

It drives the module's own pipeline code (``metaboost_ci.engine.build``)
through ``dagger.connection()`` and reports, for each scenario, the wall time
and the CPU time: the engine's (its container's cgroup, read with
``docker exec``; "n/a" when the engine does not run in a local Docker
container) and this process's with its children (the ``dagger`` CLI).

Scenarios, each cold for our own steps: a unique value is written into the
root package.json, which every Dockerfile copies before ``npm ci``, so every
step after the base image runs again (base image pulls are not counted:
they are cached once by a warm-up build).

1. one image (``api``) alone, in one session: the unit;
2. six images in one session, concurrently (what publish-staging does);
3. six sessions, one image each, each with its own value (six runners with
   their own caches, as the old matrix): the sum and the longest;
4. scenario 2 again with nothing changed: the warm re-run;
5. ``publish-staging --dry-run``'s container work in the old order: validate,
   then build every image, then smoke (``StagingSteps`` awaited one by one);
6. ``publish-staging --dry-run`` itself (``publish.publish_staging``):
   validate and the builds at once, then smoke. Both cold, each with its own
   value; the reservation is a dry run that reads nothing remote here (a
   ``ReleaseOps`` that plans ``X.Y.Z-staging.0``), so only container work is
   timed.

Goals (issue 4): (2) costs no more than 1.5x (1); (4) takes under 10% of (2).
Issue 10 reports (6) over (5), the share of the old critical path left.
The script prints the figures and whether each goal is met (progress goes to
stderr); it is not a test, and a goal not met does not change its exit status.
Without a reachable engine it exits with status 2 and says why.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ci"))

from metaboost_ci.core.apps import DEFAULT_APPS, parse_apps  # noqa: E402
from metaboost_ci.core.errors import InputError  # noqa: E402

BENCHMARK_REPOSITORY = "benchmark/metaboost"


@dataclass
class Figures:
    name: str
    wall: float
    engine_cpu: float | None
    local_cpu: float

    def row(self) -> str:
        engine = f"{self.engine_cpu:8.1f}" if self.engine_cpu is not None else "     n/a"
        return f"{self.name:<44} {self.wall:8.1f} {engine} {self.local_cpu:8.1f}"


def engine_container() -> str | None:
    """The name of the local Docker container running the Dagger engine, if any."""
    if shutil.which("docker") is None:
        return None
    done = subprocess.run(
        ["docker", "ps", "--filter", "name=^dagger-engine-", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = done.stdout.split()
    return names[0] if done.returncode == 0 and names else None


def engine_cpu_seconds(container: str | None) -> float | None:
    """CPU seconds the engine's container has used so far (cgroup v2, else v1)."""
    if container is None:
        return None
    for path, scale, key in (
        ("/sys/fs/cgroup/cpu.stat", 1e6, "usage_usec"),
        ("/sys/fs/cgroup/cpuacct/cpuacct.usage", 1e9, None),
    ):
        done = subprocess.run(
            ["docker", "exec", container, "cat", path], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            continue
        if key is None:
            return int(done.stdout.strip()) / scale
        for line in done.stdout.splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value) / scale
    return None


def local_cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def why_no_engine() -> str | None:
    if os.environ.get("DAGGER_SESSION_PORT") or os.environ.get("_EXPERIMENTAL_DAGGER_RUNNER_HOST"):
        return None
    if shutil.which("docker") is None:
        return "no docker on PATH and no DAGGER_SESSION_PORT: there is no engine to run builds on"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return "docker does not answer (`docker info` failed): no engine can be started"
    return None


async def session(work: Callable[[], Awaitable[None]]) -> None:
    """``work`` in a fresh Dagger session (a new `dagger` CLI process)."""
    import dagger

    async with dagger.connection(dagger.Config(log_output=None)):
        await work()


def nonce_source(source_dir: Path, nonce: str) -> Any:
    """``source_dir`` as a Dagger Directory with ``nonce`` in its package.json (all cold)."""
    from dagger import dag

    from metaboost_ci.engine.main import SOURCE_IGNORE

    root = json.loads((source_dir / "package.json").read_text(encoding="utf-8"))
    root["description"] = f"benchmark {nonce}"
    source = dag.host().directory(str(source_dir), exclude=SOURCE_IGNORE)
    return source.with_new_file("package.json", json.dumps(root, indent=2) + "\n")


async def build(source_dir: Path, apps: tuple[str, ...], nonce: str) -> None:
    """Build ``apps`` from ``source_dir`` with ``nonce`` in its package.json, concurrently."""
    from metaboost_ci.engine.build import ImageMeta, build_images, sync_all

    meta = ImageMeta(revision="", version="0.0.0-benchmark", source="", created="")
    await sync_all(build_images(nonce_source(source_dir, nonce), apps, ["linux/amd64"], meta))


class PlannedRelease:
    """The ``ReleaseOps`` of a dry run that reads nothing remote: it plans N = 0."""

    async def reserve(self, *, commit: str, base: str, override: str | None, dry_run: bool) -> str:
        assert dry_run, "the benchmark only makes dry runs"
        return f"{base}-staging.0"

    async def present(self, *, version: str) -> list[Any]:
        return []

    async def verify(self, *, version: str, float_tag: str | None) -> dict[str, str]:
        raise AssertionError("a dry run verifies nothing")

    async def move_floating(self, *, version: str, float_tag: str) -> None:
        raise AssertionError("a dry run moves nothing")

    async def release(self, *, tag: str, commit: str, prerelease: bool) -> str:
        raise AssertionError("a dry run releases nothing")

    async def promote(self, *, commit: str, base: str, dry_run: bool) -> Any:
        raise AssertionError("a dry run promotes nothing")


async def publish_dry_run(
    source_dir: Path, apps: tuple[str, ...], nonce: str, *, overlapped: bool
) -> None:
    """publish-staging --dry-run's container work; ``overlapped=False``: the old order."""
    from metaboost_ci.core.progress import RecordingProgress
    from metaboost_ci.engine.pipeline import BuildPlan, staging_steps
    from metaboost_ci.engine.publish import EnginePusher, StagingRequest, publish_staging
    from metaboost_ci.engine.smoke import SmokeOptions

    plan = BuildPlan(
        source=nonce_source(source_dir, nonce),
        apps=apps,
        platforms=["linux/amd64"],
        repository=BENCHMARK_REPOSITORY,
        smoke=SmokeOptions(run_id=nonce[:12]),
    )
    commit = (nonce * 2)[:40]
    steps = staging_steps(plan, commit=commit)
    if not overlapped:
        await steps.validate()
        await steps.smoke(await steps.build())
        return
    await publish_staging(
        StagingRequest(commit=commit, base="0.0.0", dry_run=True),
        steps=steps,
        pusher=EnginePusher("localhost", BENCHMARK_REPOSITORY),
        ops=PlannedRelease(),
        progress=RecordingProgress(),
    )


async def measure(
    name: str, container: str | None, runs: list[Callable[[], Awaitable[None]]]
) -> Figures:
    engine_before = engine_cpu_seconds(container)
    local_before = local_cpu_seconds()
    start = time.monotonic()
    for run in runs:
        await session(run)
    wall = time.monotonic() - start
    engine_after = engine_cpu_seconds(container)
    engine = (
        engine_after - engine_before
        if engine_after is not None and engine_before is not None
        else None
    )
    return Figures(name, wall, engine, local_cpu_seconds() - local_before)


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


@dataclass
class Report:
    """The six scenarios' figures and what follows from them (no engine needed)."""

    single: Figures
    together: Figures
    matrix: Figures
    warm: Figures
    longest_matrix_session: float
    sequential: Figures
    overlapped: Figures

    @property
    def session_ratio(self) -> float:
        """Six images in one session over one image alone (wall): goal <= 1.5."""
        return self.together.wall / self.single.wall

    @property
    def warm_share(self) -> float:
        """The warm re-run over the cold one (wall): goal < 0.10."""
        return self.warm.wall / self.together.wall

    def ratios(self) -> dict[str, float | None]:
        def cpu(a: float | None, b: float | None) -> float | None:
            return a / b if a is not None and b else None

        return {
            "one_session_over_one_image_wall": self.session_ratio,
            "one_session_over_one_image_engine_cpu": cpu(
                self.together.engine_cpu, self.single.engine_cpu
            ),
            "six_sessions_over_one_session_wall": self.matrix.wall / self.together.wall,
            "six_sessions_over_one_session_engine_cpu": cpu(
                self.matrix.engine_cpu, self.together.engine_cpu
            ),
            "warm_over_cold_wall": self.warm_share,
            "overlapped_over_sequential_publish_wall": self.overlapped.wall / self.sequential.wall,
        }

    def goals(self) -> dict[str, bool]:
        return {
            "one_session_at_most_1.5x_one_image": self.session_ratio <= 1.5,
            "warm_rerun_under_10_percent": self.warm_share < 0.10,
        }

    def scenarios(self) -> tuple[Figures, ...]:
        return (
            self.single,
            self.together,
            self.matrix,
            self.warm,
            self.sequential,
            self.overlapped,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "scenarios": [
                {
                    "name": f.name,
                    "wall_s": f.wall,
                    "engine_cpu_s": f.engine_cpu,
                    "local_cpu_s": f.local_cpu,
                }
                for f in self.scenarios()
            ],
            "longest_matrix_session_s": self.longest_matrix_session,
            "ratios": self.ratios(),
            "goals": self.goals(),
        }

    def text(self) -> str:
        lines = [f"{'scenario':<44} {'wall s':>8} {'engine':>8} {'local':>8}   (CPU seconds)"]
        lines += [f.row() for f in self.scenarios()]
        longest = "3. as six parallel runners (longest session)"
        lines.append(f"{longest:<44} {self.longest_matrix_session:8.1f}")
        lines.append("")
        lines += [f"{name}: {_ratio(value)}" for name, value in self.ratios().items()]
        lines += [f"goal {name}: {verdict(met)}" for name, met in self.goals().items()]
        return "\n".join(lines)

    def markdown(self) -> str:
        """For a GitHub Actions job summary."""
        lines = [
            "### Engine build benchmark",
            "",
            "| scenario | wall s | engine CPU s | local CPU s |",
            "|---|---:|---:|---:|",
        ]
        for f in self.scenarios():
            engine = f"{f.engine_cpu:.1f}" if f.engine_cpu is not None else "n/a"
            lines.append(f"| {f.name} | {f.wall:.1f} | {engine} | {f.local_cpu:.1f} |")
        lines += ["", "| ratio | value |", "|---|---:|"]
        lines += [f"| {name} | {_ratio(value)} |" for name, value in self.ratios().items()]
        lines += ["", "| goal | verdict |", "|---|---|"]
        lines += [f"| {name} | {verdict(met)} |" for name, met in self.goals().items()]
        return "\n".join(lines) + "\n"


def _ratio(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "n/a"


async def run_scenarios(source_dir: Path, apps: tuple[str, ...]) -> Report:
    container = engine_container()
    print(
        f"source: {source_dir}  apps: {', '.join(apps)}  engine container: {container or 'n/a'}",
        file=sys.stderr,
    )
    print("warming up (pulls the base image once)...", file=sys.stderr, flush=True)
    warm_up = uuid.uuid4().hex
    await session(lambda: build(source_dir, apps[:1], warm_up))

    print("1/6 one image alone...", file=sys.stderr, flush=True)
    single = await measure(
        "1. one image alone", container, [lambda: build(source_dir, apps[:1], uuid.uuid4().hex)]
    )
    shared = uuid.uuid4().hex
    print(f"2/6 {len(apps)} images, one session...", file=sys.stderr, flush=True)
    together = await measure(
        f"2. {len(apps)} images, one session", container, [lambda: build(source_dir, apps, shared)]
    )
    walls: list[float] = []

    def matrix_run(app: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            start = time.monotonic()
            await build(source_dir, (app,), uuid.uuid4().hex)
            walls.append(time.monotonic() - start)

        return run

    print(f"3/6 {len(apps)} sessions, one image each...", file=sys.stderr, flush=True)
    matrix_runs = [matrix_run(app) for app in apps]
    matrix = await measure(f"3. {len(apps)} sessions, one image each (sum)", container, matrix_runs)
    print("4/6 warm re-run...", file=sys.stderr, flush=True)
    warm = await measure(
        "4. scenario 2 again, nothing changed", container, [lambda: build(source_dir, apps, shared)]
    )
    publish: dict[bool, Figures] = {}
    for overlapped, name in (
        (False, "5. publish-staging --dry-run, validate then build"),
        (True, "6. publish-staging --dry-run, validate while building"),
    ):
        print(f"{5 + overlapped}/6 {name[3:]}...", file=sys.stderr, flush=True)
        publish[overlapped] = await measure(
            name,
            container,
            [partial(publish_dry_run, source_dir, apps, uuid.uuid4().hex, overlapped=overlapped)],
        )
    return Report(single, together, matrix, warm, max(walls), publish[False], publish[True])


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO / "sample", help="Monorepo root.")
    parser.add_argument(
        "--apps", default=",".join(DEFAULT_APPS), help="Comma-separated apps (default: the six)."
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="One JSON document on stdout.")
    output.add_argument(
        "--markdown", action="store_true", help="Markdown tables (for a GitHub job summary)."
    )
    args = parser.parse_args(argv)
    # Bad input fails before any engine work starts.
    try:
        apps = parse_apps(args.apps)
    except InputError as exc:
        parser.error(str(exc))
    if not (args.source / "package.json").is_file():
        parser.error(f"--source {args.source} has no package.json; name a monorepo root.")
    reason = why_no_engine()
    if reason is not None:
        print(f"engine_build: cannot run: {reason}.", file=sys.stderr)
        return 2
    try:
        report = anyio.run(run_scenarios, args.source.resolve(), apps)
    except Exception as exc:
        import dagger

        if isinstance(exc, (dagger.ClientConnectionError, dagger.ProvisionError)):
            print(f"engine_build: cannot reach a Dagger engine: {exc}", file=sys.stderr)
            return 2
        raise
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif args.markdown:
        print(report.markdown(), end="")
    else:
        print(report.text())
    return 0


if __name__ == "__main__":
    sys.exit(cli())
