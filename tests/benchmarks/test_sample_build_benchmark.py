"""Benchmark: the six sample images built with buildah, shared prefix cached or not.

Reports figures, asserts no timing. Run: ``.venv/bin/pytest -m benchmark -s
tests/benchmarks/test_sample_build_benchmark.py`` (root and buildah needed;
see tests/support/containers.py).

- shared: one storage, the six Dockerfiles one after the other with
  ``--layers``: the shared prefix (``npm ci``, the package build) runs once
  (what one engine session does);
- isolated: each Dockerfile in its own fresh storage, as the old one-job-per-app
  matrix did: every build runs the whole prefix;
- warm: the six again in the shared storage, everything cached.

Each storage gets the node:24 stand-in first, untimed: it stands for pulling
node:24, which both ways do.
"""

from __future__ import annotations

import time

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS, dockerfile_path
from tests.support.containers import (
    build_node_standin,
    buildah_home,
    sample_context,
    sample_tag,
)


def timed_builds(prefix: str, *, fresh_each: bool) -> tuple[float, float | None]:
    """Wall time of the six builds (and of a warm re-run when sharing one storage)."""
    if fresh_each:
        total = 0.0
        for app in DEFAULT_APPS:
            with buildah_home(prefix) as buildah:
                build_node_standin(buildah, buildah.home / "node-standin")
                context = sample_context(buildah.home / "context")
                total += buildah.build(
                    context / dockerfile_path(app), sample_tag(app), context
                ).seconds
        return total, None
    with buildah_home(prefix) as buildah:
        build_node_standin(buildah, buildah.home / "node-standin")
        context = sample_context(buildah.home / "context")

        def six() -> float:
            start = time.perf_counter()
            for app in DEFAULT_APPS:
                buildah.build(context / dockerfile_path(app), sample_tag(app), context)
            return time.perf_counter() - start

        return six(), six()


@pytest.mark.benchmark
def test_six_sample_builds_shared_prefix_against_one_storage_each() -> None:
    shared, warm = timed_builds("metaboost-bench-shared-", fresh_each=False)
    isolated, _ = timed_builds("metaboost-bench-isolated-", fresh_each=True)
    print()
    print(f"six builds, shared prefix cached (one storage): {shared:6.1f} s")
    print(f"six builds, each in its own fresh storage:      {isolated:6.1f} s")
    print(f"six builds again, warm (everything cached):     {warm or 0.0:6.1f} s")
    print(f"isolated / shared: {isolated / shared:.2f}x")
