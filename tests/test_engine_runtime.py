"""What the engine's Python runtime does with this repository, read from its source.

The runtime (dagger/dagger ``sdk/python/runtime``; the mirror read holds
v0.21.8 and the later ``backport-0.21`` branch, whose runtime, discovery and
pattern matcher are identical, so v0.21.11 is taken to be the same; the engine
pinned in dagger.json) decides three things this module depends on:

- **Install.** With ``uv.lock`` present it runs ``uv lock`` then
  ``uv sync --no-dev`` (main.go, ``WithUpdates``/``WithInstall``). It vendors
  its own SDK into ``./sdk`` only when ``[tool.uv.sources]`` names a path for
  dagger-io (discovery.go, ``loadConfig``: ``VendorPath`` is that path, else
  empty). This project names none: dagger-io comes from the lock, exactly the
  version the offline checks use, and a lock made here (no ``./sdk``) is what
  the runtime installs. uv 0.10.3 (its ``images/uv/Dockerfile``) made it, so
  its ``uv lock`` leaves it as it is.
- **Discovery.** ``Source().Glob("src/**/*.py|*.py")`` must find a file, or
  the module fails to load ("no python files found in module source").
- **Context.** ``include`` in dagger.json narrows what the module loads.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from metaboost_ci.engine.tools import PROJECT_FILES, UV_VERSION
from tests.support.dagger_offline import REPO

ENGINE_VERSION = "v0.21.11"
# sdk/python/runtime/discovery.go, loadFiles, as of that version.
RUNTIME_GLOB = "src/**/*.py|*.py"
# util/patternmatcher: the characters its table is meant to escape...
MEANT_TO_ESCAPE = ".+()|{}$"
# ...and those it does: the table is [8]byte indexed by b%8 with bit b/8, so
# a character >= 64 shifts its bit out of the byte; `|`, `{` and `}` stay
# regexp syntax. That is the quirk: `|` becomes an alternation.
ESCAPED = "".join(c for c in MEANT_TO_ESCAPE if ord(c) // 8 < 8)


def project() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def dagger_json() -> dict[str, Any]:
    return json.loads((REPO / "dagger.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ the pattern matcher


def go_regexp(pattern: str, escaped: str = ESCAPED) -> str:
    """``patternmatcher.Pattern.compile`` for patterns without a leading ``**``.

    Go's ``MatchString`` searches, unanchored, as ``re.search`` does.
    """
    assert not pattern.startswith("**"), "suffix patterns are not ported"
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*" and pattern[i + 1 : i + 2] == "*":
            i += 1
            if pattern[i + 1 : i + 2] == "/":
                i += 1
            out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
        elif ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch in escaped:
            out += "\\" + ch
        else:
            out += ch
        i += 1
    return out + "$"


def included(path: str, patterns: list[str]) -> bool:
    """The module context's rule: the last pattern matching the path or a parent wins."""
    keep = True
    parents = [path] + ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 1)]
    for pattern in patterns:
        exclude = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        if any(re.search(go_regexp(body, MEANT_TO_ESCAPE), p) for p in parents):
            keep = not exclude
    return keep


def module_context() -> list[str]:
    """The files the engine loads as the module: tracked, then dagger.json's ``include``."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    patterns = dagger_json().get("include", [])
    return [path for path in tracked if path and included(path, patterns)]


def test_the_ported_matcher_matches_like_the_engines() -> None:
    assert re.search(go_regexp("src/**/*.py"), "src/pkg/main.py")
    assert re.search(go_regexp("src/**/*.py"), "src/main.py")
    assert not re.search(go_regexp("src/**/*.py"), "ci/main.py")
    assert not re.search(go_regexp("*.py"), "ci/main.py")
    assert re.search(go_regexp("ci/**"), "ci/metaboost_ci/engine/main.py")
    assert ESCAPED == ".+()$"


def test_the_runtime_finds_this_modules_code_only_through_its_glob_quirk() -> None:
    """If this fails after an engine upgrade, read the new runtime's discovery first.

    The code lives under ci/, not src/: the runtime finds it only because
    `src/**/*.py|*.py` searches as `^src/(.*/)?[^/]*\\.py` OR `[^/]*\\.py$`, any
    .py file. A runtime that escapes `|` (or drops it) finds nothing here and
    the module stops loading: move the code to src/ or add a root .py file.
    """
    assert dagger_json()["engineVersion"] == ENGINE_VERSION, (
        "the engine changed: re-read sdk/python/runtime/discovery.go (loadFiles) and "
        "util/patternmatcher at the new version, then update RUNTIME_GLOB and ESCAPED"
    )
    files = module_context()
    found = [path for path in files if re.search(go_regexp(RUNTIME_GLOB), path)]
    assert "ci/metaboost_ci/engine/main.py" in found
    meant = [p for p in files if re.search(go_regexp(RUNTIME_GLOB, MEANT_TO_ESCAPE), p)]
    assert meant == [], "a src/ layout appeared: the quirk is no longer needed"


# ------------------------------------------------------------------ the context


def test_the_module_context_leaves_out_tests_benchmarks_and_docs() -> None:
    files = module_context()
    tops = {path.split("/")[0] for path in files}
    assert not tops & {"tests", "benchmarks", "docs", ".github", ".ci", "infra"}
    # What the runtime and the tools container need stays: the project, its lock,
    # its code, and the sample rehearse publishes.
    assert {"pyproject.toml", "uv.lock", "README.md", "dagger.json"} <= set(files)
    assert "sample/package.json" in files
    assert "ci/metaboost_ci/engine/main.py" in files
    needed = [p.rstrip("*").rstrip("/") for p in PROJECT_FILES]
    assert all(any(f == n or f.startswith(n + "/") for f in files) for n in needed)


# ------------------------------------------------------------------ the lock


def test_dagger_io_comes_from_the_lock_not_a_vendored_sdk() -> None:
    config = project()
    engine = dagger_json()["engineVersion"].removeprefix("v")
    # No [tool.uv.sources] path for dagger-io: the runtime vendors no ./sdk.
    assert "dagger-io" not in config.get("tool", {}).get("uv", {}).get("sources", {})
    pins = [d for d in config["project"]["dependencies"] if d.startswith("dagger-io")]
    assert pins == [f"dagger-io=={engine}"]
    for extra in ("test", "lint"):
        assert f"dagger-io=={engine}" in config["project"]["optional-dependencies"][extra]
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    [sdk] = [p for p in lock["package"] if p["name"] == "dagger-io"]
    assert sdk["version"] == engine
    assert sdk["source"] == {"registry": "https://pypi.org/simple"}
    # The runtime's base image is python:<requires-python's minimum>-slim.
    assert config["project"]["requires-python"] == ">=3.11"


def test_every_install_uses_the_runtimes_uv() -> None:
    """The README command, .ci/run, CI and the tools container install with one uv."""
    pin = f"uv=={UV_VERSION}"
    assert UV_VERSION == "0.10.3"  # sdk/python/runtime/images/uv/Dockerfile at the engine pin
    paths = ("README.md", ".ci/run", ".github/workflows/ci.yml", ".github/workflows/rollback.yml")
    for path in paths:
        text = (REPO / path).read_text(encoding="utf-8")
        assert pin in text, path
        assert set(re.findall(r"\buv==[\w.]+", text)) == {pin}, path


def test_the_lock_is_fresh() -> None:
    """`uv lock --check`, offline: the lock still satisfies pyproject.toml."""
    uv = Path(sys.executable).with_name("uv")
    done = subprocess.run(
        [str(uv) if uv.is_file() else "uv", "lock", "--check", "--offline"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
