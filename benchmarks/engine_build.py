"""Six images in one Dagger session versus six separate sessions (the old matrix).

Run where a Dagger engine can run (Docker, network to pull node:24):

    .venv/bin/python benchmarks/engine_build.py            # the sample monorepo
    .venv/bin/python benchmarks/engine_build.py --source ../metaboost

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
4. scenario 2 again with nothing changed: the warm re-run.

Goals (issue 4): (2) costs no more than 1.5x (1); (4) takes under 10% of (2).
The script prints the figures and whether each goal is met; it is not a test.
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
from pathlib import Path

import anyio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ci"))

APPS = ("api", "management-api", "web", "web-sidecar", "management-web", "management-web-sidecar")
EXCLUDE = ["**/node_modules", "**/dist", "**/.next", "**/build", "**/coverage", ".git"]


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


async def build(source_dir: Path, apps: tuple[str, ...], nonce: str) -> None:
    """Build ``apps`` from ``source_dir`` with ``nonce`` in its package.json, concurrently."""
    from dagger import dag

    from metaboost_ci.engine.build import ImageMeta, build_images, sync_all

    root = json.loads((source_dir / "package.json").read_text(encoding="utf-8"))
    root["description"] = f"benchmark {nonce}"
    source = dag.host().directory(str(source_dir), exclude=EXCLUDE)
    source = source.with_new_file("package.json", json.dumps(root, indent=2) + "\n")
    meta = ImageMeta(revision="", version="0.0.0-benchmark", source="", created="")
    await sync_all(build_images(source, apps, ["linux/amd64"], meta))


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


async def main(source_dir: Path, apps: tuple[str, ...]) -> int:
    container = engine_container()
    print(f"source: {source_dir}  apps: {', '.join(apps)}  engine container: {container or 'n/a'}")
    print("warming up (pulls the base image once)...", flush=True)
    warm_up = uuid.uuid4().hex
    await session(lambda: build(source_dir, apps[:1], warm_up))

    single = await measure(
        "1. one image alone", container, [lambda: build(source_dir, apps[:1], uuid.uuid4().hex)]
    )
    shared = uuid.uuid4().hex
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

    matrix_runs = [matrix_run(app) for app in apps]
    matrix = await measure(f"3. {len(apps)} sessions, one image each (sum)", container, matrix_runs)
    warm = await measure(
        "4. scenario 2 again, nothing changed", container, [lambda: build(source_dir, apps, shared)]
    )

    print()
    print(f"{'scenario':<44} {'wall s':>8} {'engine':>8} {'local':>8}   (CPU seconds)")
    for figures in (single, together, matrix, warm):
        print(figures.row())
    print(f"{'3. as six parallel runners (longest session)':<44} {max(walls):8.1f}")
    print()
    ratio = together.wall / single.wall
    warm_share = warm.wall / together.wall
    print(f"one session / one image (wall): {ratio:.2f}x  (goal <= 1.5x: {verdict(ratio <= 1.5)})")
    if together.engine_cpu is not None and single.engine_cpu:
        print(
            f"one session / one image (engine CPU): {together.engine_cpu / single.engine_cpu:.2f}x"
        )
    if matrix.engine_cpu is not None and together.engine_cpu:
        cpu_ratio = matrix.engine_cpu / together.engine_cpu
        print(f"six sessions / one session (engine CPU): {cpu_ratio:.2f}x")
    print(f"six sessions / one session (wall, sum): {matrix.wall / together.wall:.2f}x")
    print(
        f"warm re-run / cold (wall): {warm_share:.1%}  (goal < 10%: {verdict(warm_share < 0.10)})"
    )
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO / "sample", help="Monorepo root.")
    parser.add_argument("--apps", default=",".join(APPS), help="Comma-separated apps.")
    args = parser.parse_args()
    reason = why_no_engine()
    if reason is not None:
        print(f"engine_build: cannot run: {reason}.", file=sys.stderr)
        return 2
    apps = tuple(a for a in args.apps.split(",") if a)
    try:
        return anyio.run(main, args.source.resolve(), apps)
    except Exception as exc:
        import dagger

        if isinstance(exc, (dagger.ClientConnectionError, dagger.ProvisionError)):
            print(f"engine_build: cannot reach a Dagger engine: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(cli())
