"""Benchmark: the tools container's cold build (``engine.tools.tools_image``) with buildah.

Reports figures, asserts no timing. Run: ``.venv/bin/pytest -m benchmark -s
tests/benchmarks/test_tools_image_benchmark.py`` (root, buildah and the
package index needed; see tests/support/tools_image.py for what the
Containerfile leaves out: the Debian step, the image pull).

- cold: a fresh storage (the python:3.11-slim stand-in built first, untimed,
  as the engine pulls it), no pip or uv cache: pip installs uv, ``uv sync
  --locked --no-dev --no-editable`` downloads and installs the locked
  dependencies and builds this project's wheel;
- warm: the same build again in that storage, every step cached (what a
  second release on the same engine pays when the module did not change).
"""

from __future__ import annotations

import pytest

from tests.support.containers import buildah_home
from tests.support.tools_image import (
    TOOLS_TAG,
    build_python_standin,
    build_tools_image,
    project_context,
)


@pytest.mark.benchmark
def test_the_tools_image_cold_and_warm() -> None:
    with buildah_home("metaboost-bench-tools-") as buildah:
        build_python_standin(buildah, buildah.home / "python-standin")
        context = project_context(buildah.home / "context")
        cold = build_tools_image(buildah, context)
        warm = build_tools_image(buildah, context)
        container = buildah.container(TOOLS_TAG)
        version = buildah.exec(container, ["metaboost-ci", "--version"]).strip()
        size = buildah.run("images", "--format", "{{.Size}}", TOOLS_TAG).strip()
    assert version.startswith("metaboost-ci ")
    print(
        f"\ntools image ({version}, {size}): cold build {cold.seconds:.1f} s, "
        f"warm re-build {warm.seconds:.1f} s (Debian step and image pull not included)"
    )
