"""The module on a real engine: rehearse end to end, lockfile on the sample, shared layers.

`.venv/bin/pytest -m engine` (needs Docker and the dagger CLI v0.21.11).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS

from .conftest import REPO, DaggerCli

pytestmark = pytest.mark.engine
SAMPLE = REPO / "sample"


def test_rehearse_publishes_staging_then_main_with_no_credentials(dagger_cli: DaggerCli) -> None:
    report = dagger_cli.call("rehearse").stdout
    assert "### Published 0.1.0-staging.0" in report
    assert "### Published 0.1.0\n" in report
    for app in DEFAULT_APPS:
        assert f"localhost:5000/rehearsal/metaboost/{app}" in report
    # Both Git tags reached the throwaway remote.
    tags = report.split("Git tags on the throwaway remote:")[1]
    assert "0.1.0-staging.0" in tags
    assert "\n0.1.0\n" in tags


def test_rehearse_with_skopeo_pushes_publishes_the_same_release(dagger_cli: DaggerCli) -> None:
    report = dagger_cli.call("rehearse", "--push-with=skopeo").stdout
    assert "skopeo pushed to it as `registry:5000`" in report
    assert "### Published 0.1.0\n" in report


def test_smoke_runs_again_on_every_call(dagger_cli: DaggerCli) -> None:
    """cache="session": a second call is not the first one's answer (its run id differs)."""
    first, second = (
        dagger_cli.call("--source=sample", "smoke").stdout.splitlines()[0] for _ in range(2)
    )
    assert first.startswith("Smoke run ")
    assert first != second


def test_bad_input_is_one_sentence_and_its_fix_without_a_traceback(
    dagger_cli: DaggerCli,
) -> None:
    done = dagger_cli.attempt(
        [
            "call",
            "-m",
            str(REPO),
            "--source=sample",
            "publish-main",
            "--commit=" + "0" * 40,
            "--github-token=env://PATH",  # any set variable: refused before it is read
        ],
        timeout=900,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "No repository given. Fix: Pass --repository OWNER/REPO" in output
    assert "Traceback" not in output


def test_lockfile_on_the_sample_is_accepted_by_npm_ci(
    dagger_cli: DaggerCli, tmp_path: Path
) -> None:
    out = tmp_path / "package-lock.json"
    dagger_cli.call("--source=sample", "lockfile", "export", f"--path={out}")
    lock = json.loads(out.read_text(encoding="utf-8"))
    assert lock["lockfileVersion"] == 3
    assert lock["packages"][""]["workspaces"] == ["packages/*", "apps/*"]
    for app in DEFAULT_APPS:
        assert lock["packages"][f"node_modules/@metaboost-sample/{app}"]["link"] is True
    if shutil.which("npm") is None:
        return
    copy = tmp_path / "sample"
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("node_modules", "dist"))
    shutil.copy(out, copy / "package-lock.json")
    subprocess.run(["npm", "ci", "--offline", "--no-audit", "--no-fund"], cwd=copy, check=True)


def image_layers(tarball: Path) -> list[str]:
    """The layer digests of the single image in an OCI tarball."""
    with tarfile.open(tarball) as archive:

        def blob(digest: str) -> Any:
            member = archive.extractfile(f"blobs/sha256/{digest.removeprefix('sha256:')}")
            assert member is not None
            return json.load(member)

        index_file = archive.extractfile("index.json")
        assert index_file is not None
        manifest = blob(json.load(index_file)["manifests"][0]["digest"])
        if "manifests" in manifest:  # an index: take its first image
            manifest = blob(manifest["manifests"][0]["digest"])
        return [layer["digest"] for layer in manifest["layers"]]


def test_build_all_shares_the_dockerfiles_common_steps(
    dagger_cli: DaggerCli, tmp_path: Path
) -> None:
    dagger_cli.call("--source=sample", "build-all", "--version=0.1.0")
    layers: dict[str, list[str]] = {}
    for app in DEFAULT_APPS:
        tarball = tmp_path / f"{app}.tar"
        dagger_cli.call(
            "--source=sample",
            "build",
            f"--app={app}",
            "--version=0.1.0",
            "as-tarball",
            "export",
            f"--path={tarball}",
        )
        layers[app] = image_layers(tarball)
    shared = 0
    for position in zip(*layers.values(), strict=False):
        if len(set(position)) != 1:
            break
        shared += 1
    # The base image's layers (at least one) and the 13 layers of the common
    # instructions (package manifests, npm ci, packages, scripts,
    # build:packages) are the same blobs in all six images. A RUN layer holds
    # file times, so equal `npm ci` layers mean it ran once, not six times.
    assert shared >= 1 + 13, layers
    # ... and each app's own files are its own.
    assert len({tuple(layer[shared:]) for layer in layers.values()}) == len(DEFAULT_APPS)
