"""Fixtures for the release flows: a registry, the GitHub emulator, and builds.

``ReleaseWorld`` joins a real docker-registry and the GitHub emulator (whose
tags live in a real bare Git repository) for the repository ``acme/metaboost``.
Tests push "builds" the way the staging pipeline would (one image per app,
labelled with the commit, tagged ``X.Y.Z-staging.N``), then run the flows
through a ``ReleaseContext`` over either tag store: the GitHub API or the bare
repository as a Git remote. ``snapshot()`` captures every write channel (the
registry's access log, the emulator's request log, the Git tags) so a test can
assert that nothing was written.

Fixtures:

- ``world``: GitHub API tag store, anonymous registry.
- ``any_world``: parametrised over both tag stores (``world.store`` says which).
- ``world_factory(store="github", registry=None)``: build one by hand.
- ``status_registry(status, code)``: a stand-in registry answering every request
  with one status, for answers docker-registry never gives (GHCR's 403 DENIED,
  odd statuses).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal

import pytest

from metaboost_ci.cli.main import main as cli_main
from metaboost_ci.core.apps import DEFAULT_APPS
from metaboost_ci.core.flows import ReleaseContext
from metaboost_ci.core.net import RetryPolicy
from metaboost_ci.core.progress import Progress, RecordingProgress
from metaboost_ci.core.settings import Credential, Settings, open_release_context

from .github import GitHubEmulator
from .gitrepo import make_repos
from .images import (
    REVISION_LABEL,
    PushedImage,
    manifest_digest,
    push_image,
    push_index,
    tag_image,
)
from .ports import LoopbackServer, LoopbackService
from .registry_process import Registry

REPOSITORY = "acme/metaboost"
VERSION_LABEL = "org.opencontainers.image.version"
APPS = DEFAULT_APPS
Store = Literal["github", "git"]
# Fault tests retry a lot: keep the waits short (the policy's shape is the same).
FAST_POLICY = RetryPolicy(
    attempts=10, base_delay=0.005, max_delay=0.05, total_seconds=60, max_server_wait=2
)


@dataclass(frozen=True)
class Snapshot:
    """Everything that could have been written, at one moment."""

    registry_writes: int
    github_writes: int
    git_tags: Mapping[str, str]
    releases: int


@dataclass
class ReleaseWorld:
    origin: Registry
    github: GitHubEmulator
    store: Store
    # A proxy in front of the origin, when the flows reach it through one.
    registry: Registry | None = None
    apps: tuple[str, ...] = APPS

    # -- names ----------------------------------------------------------------

    @property
    def via(self) -> Registry:
        """The registry as the flows reach it."""
        return self.origin if self.registry is None else self.registry

    @staticmethod
    def image_name(app: str) -> str:
        return f"{REPOSITORY}/{app}"

    @property
    def bare(self) -> Path:
        return self.github.bare_repo

    @property
    def work(self) -> Path:
        return self.github.work_repo

    def commit(self, message: str | None = None) -> str:
        return self.github.commit(message)

    def commit_files(self, files: Mapping[str, str], message: str | None = None) -> str:
        """A commit (pushed) that also writes ``files`` (path -> text) in the clone."""
        for path, text in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            self.github.repos.git("add", path)
        return self.commit(message)

    # -- settings and contexts ------------------------------------------------

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "repository": REPOSITORY,
            "registry_url": self.via.url,
            "apps": self.apps,
            "git_remote": str(self.bare) if self.store == "git" else None,
            "github_api_url": self.github.api_url,
            "github_token": Credential(self.github.token, "GITHUB_TOKEN"),
            "local_repo": self.work,
        }
        if self.origin.credentials is not None:
            user, password = self.origin.credentials
            values["registry_token"] = Credential(password, "GHCR_REGISTRY_TOKEN")
            values["registry_username"] = Credential(user, "REGISTRY_USERNAME", secret=False)
        values.update(overrides)
        return Settings(**values)

    @asynccontextmanager
    async def context(
        self,
        *,
        progress: Progress | None = None,
        policy: RetryPolicy = FAST_POLICY,
        **overrides: Any,
    ) -> AsyncIterator[ReleaseContext]:
        settings = self.settings(**overrides)
        async with open_release_context(
            settings, progress=progress or RecordingProgress(), policy=policy
        ) as ctx:
            yield ctx

    def env(self) -> dict[str, str]:
        """The environment a command-line run gets (credentials as in Actions)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key
            not in (
                "GHCR_REGISTRY_TOKEN",
                "GITHUB_TOKEN",
                "REGISTRY_USERNAME",
                "GITHUB_ACTOR",
                "GITHUB_REPOSITORY",
                "GITHUB_API_URL",
                "GITHUB_OUTPUT",
                "GITHUB_STEP_SUMMARY",
            )
        }
        env["GITHUB_TOKEN"] = self.github.token
        env["GITHUB_REPOSITORY"] = REPOSITORY
        if self.origin.credentials is not None:
            env["REGISTRY_USERNAME"], env["GHCR_REGISTRY_TOKEN"] = self.origin.credentials
        return env

    def cli_options(self) -> list[str]:
        options = ["--registry", self.via.url, "--github-api-url", self.github.api_url]
        if self.store == "git":
            options += ["--git-remote", str(self.bare)]
        return options

    # -- builds -----------------------------------------------------------------

    def push_build(
        self,
        version: str,
        commit: str | None,
        *,
        apps: tuple[str, ...] | None = None,
        index_apps: tuple[str, ...] = (),
        layers: int = 2,
        seed: int | None = None,
    ) -> dict[str, PushedImage]:
        """Push one image per app tagged ``version``, labelled with ``commit``
        (no revision label when ``commit`` is None). ``index_apps`` get a
        two-platform index with attestations instead."""
        # As the build labels them: the commit, and the version built.
        labels = {REVISION_LABEL: commit, VERSION_LABEL: version} if commit else {}
        pushed: dict[str, PushedImage] = {}
        for number, app in enumerate(apps or self.apps):
            app_seed = None if seed is None else seed * 100 + number
            if app in index_apps:
                pushed[app] = push_index(
                    self.origin, self.image_name(app), version, labels=labels, seed=app_seed
                )
            else:
                pushed[app] = push_image(
                    self.origin,
                    self.image_name(app),
                    version,
                    labels=labels,
                    layers=layers,
                    seed=app_seed,
                )
        return pushed

    def retag(self, app: str, image: PushedImage, tag: str) -> None:
        tag_image(self.origin, self.image_name(app), image, tag)

    def digest(self, app: str, tag: str) -> str | None:
        return manifest_digest(self.origin, self.image_name(app), tag)

    def digests(self, tag: str) -> dict[str, str | None]:
        return {app: self.digest(app, tag) for app in self.apps}

    # -- state ----------------------------------------------------------------

    def git_tags(self) -> dict[str, str]:
        return self.github.tags()

    def snapshot(self) -> Snapshot:
        """Writes that took effect so far (refused attempts write nothing)."""
        registry_writes = successful_writes(self.origin)
        github_writes = sum(
            1
            for r in self.github.requests
            if r.method in ("POST", "PATCH") and r.status is not None and 200 <= r.status < 300
        )
        return Snapshot(registry_writes, github_writes, self.git_tags(), len(self.github.releases))


def successful_writes(registry: Registry) -> int:
    """Writes a registry accepted so far (from its access log; refusals wrote nothing)."""
    return sum(
        1
        for e in registry.access_log()
        if e.method in ("PUT", "POST", "PATCH", "DELETE") and 200 <= e.status < 300
    )


WorldFactory = Callable[..., ReleaseWorld]


@pytest.fixture
def world_factory(tmp_path: Path, registry: Registry) -> Iterator[WorldFactory]:
    emulators: list[GitHubEmulator] = []

    def make(
        store: Store = "github",
        *,
        origin: Registry | None = None,
        via: Registry | None = None,
        apps: tuple[str, ...] = APPS,
    ) -> ReleaseWorld:
        emulator = GitHubEmulator(make_repos(tmp_path / f"github-{len(emulators)}"))
        emulator.start()
        emulators.append(emulator)
        return ReleaseWorld(origin or registry, emulator, store, via, apps)

    try:
        yield make
    finally:
        for emulator in emulators:
            emulator.stop()


@pytest.fixture
def world(world_factory: WorldFactory) -> ReleaseWorld:
    return world_factory("github")


@pytest.fixture(params=["github", "git"])
def any_world(request: pytest.FixtureRequest, world_factory: WorldFactory) -> ReleaseWorld:
    return world_factory(request.param)


# -- a registry that only ever gives one answer -----------------------------------


class StatusRegistry(LoopbackService):
    """Answers every repository request with ``status`` and a distribution-style
    error body; the API root (``GET /v2/``) answers 200, as an open registry's does."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.requests: list[tuple[str, str]] = []
        self.server = LoopbackServer(_status_handler(self))
        self.url = self.server.url


def _status_handler(stub: StatusRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            stub.requests.append((self.command, self.path))
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            status = 200 if self.path == "/v2/" else stub.status
            errors = [{"code": stub.code, "message": stub.message}]
            body = b"{}" if status == 200 else json.dumps({"errors": errors}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_PUT = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def status_registry() -> Iterator[Callable[[int, str, str], StatusRegistry]]:
    started: list[StatusRegistry] = []

    def start(status: int, code: str = "DENIED", message: str = "denied") -> StatusRegistry:
        stub = StatusRegistry(status, code, message).__enter__()
        started.append(stub)
        return stub

    try:
        yield start
    finally:
        for stub in started:
            stub.__exit__()


# -- the command line, in process ------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def all_output(self) -> str:
        return self.out + self.err


def run_cli(args: list[str], *, env: Mapping[str, str], cwd: Path | None = None) -> CliResult:
    """``metaboost-ci ARGS`` in this process with exactly ``env`` and ``cwd``."""
    saved_env = dict(os.environ)
    saved_cwd = Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            code = cli_main(args)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return CliResult(code, out.getvalue(), err.getvalue())


# -- concurrent command-line processes ----------------------------------------------

# Each process imports everything, then waits for the start file, so all eight
# reach the tag store together (a condition, not a sleep, decides the start).
_LAUNCHER = """
import os, sys, time
from metaboost_ci.cli.main import main
go = sys.argv[1]
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("start file never appeared")
    time.sleep(0.002)
sys.exit(main(sys.argv[2:]))
"""


def reserve_concurrently(
    world: ReleaseWorld, tmp_path: Path, *, base: str, processes: int = 8
) -> list[dict[str, Any]]:
    """Run ``processes`` ``metaboost-ci --json reserve`` at once (one commit each)."""
    commits = [world.commit(f"push {i}") for i in range(processes)]
    go = tmp_path / "go"
    running = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _LAUNCHER,
                str(go),
                *world.cli_options(),
                "--json",
                "reserve",
                "--commit",
                commit,
                "--base-version",
                base,
            ],
            cwd=world.work,
            env=world.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for commit in commits
    ]
    try:
        go.touch()
        results = [p.communicate(timeout=120) for p in running]
    finally:
        for p in running:
            if p.poll() is None:
                p.kill()
    reservations: list[dict[str, Any]] = []
    for process, (out, err) in zip(running, results, strict=True):
        assert process.returncode == 0, err
        reservations.append(json.loads(out))
    for commit, reservation in zip(commits, reservations, strict=True):
        assert reservation["commit"] == commit
    return reservations
