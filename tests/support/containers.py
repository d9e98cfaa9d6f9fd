"""Real image builds and real containers with buildah (no Docker daemon, no engine).

Debian's buildah, run as root with the overlay storage driver and chroot
isolation, builds Dockerfiles (RUN included) and runs containers that share
the host's network. Everything lives in a private storage directory per test
session, removed at teardown.

There is no network to pull ``node:24``, so :func:`build_node_standin` makes a
stand-in tagged ``docker.io/library/node:24`` FROM scratch out of this
machine's own Node.js (see its docstring): the sample's ``FROM node:24`` then
resolves locally with ``--pull=never``.

Without a usable buildah the tests skip, naming why; with
``METABOOST_REQUIRE_BUILDAH=1`` (set where buildah is installed on purpose)
they fail instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS, dockerfile_path
from metaboost_ci.engine.main import SOURCE_IGNORE
from tests.support.ports import free_port, port_open, wait_until

REQUIRE_VARIABLE = "METABOOST_REQUIRE_BUILDAH"
NODE_STANDIN_TAG = "docker.io/library/node:24"
# node:24's `node` user, and the stand-in's.
NODE_UID = 1000
SAMPLE = Path(__file__).resolve().parents[2] / "sample"
BUILD_TIMEOUT = 300.0


def buildah_unusable_reason() -> str | None:
    """Why buildah cannot build and run containers here, or None when it can."""
    if shutil.which("buildah") is None:
        return "buildah is not installed (apt-get install buildah)"
    if os.geteuid() != 0:
        return "buildah needs root here (chroot isolation, overlay storage)"
    filesystems = Path("/proc/filesystems").read_text()
    if not re.search(r"\boverlay\b", filesystems):
        return "the kernel has no overlay filesystem for buildah's storage"
    return None


def require_buildah() -> None:
    """Skip without a usable buildah; fail instead when METABOOST_REQUIRE_BUILDAH=1."""
    reason = buildah_unusable_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{reason} ({REQUIRE_VARIABLE}=1, so this is a failure, not a skip)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Built:
    """One `buildah bud`: the tag, its output, how long it took."""

    tag: str
    output: str
    seconds: float

    def cached_steps(self) -> list[str]:
        """The instructions buildah took from its layer cache, in order."""
        return steps_using_cache(self.output)


def steps_using_cache(output: str) -> list[str]:
    """From `buildah bud` output: each STEP followed by "--> Using cache"."""
    cached: list[str] = []
    step: str | None = None
    for line in output.splitlines():
        if match := re.match(r"STEP \d+/\d+: (.*)", line):
            step = match.group(1)
        elif line.startswith("--> Using cache") and step is not None:
            cached.append(step)
    return cached


@dataclass
class Running:
    """A container started with `buildah run` in its own session, in the background."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def serving(self) -> bool:
        if not self.alive():
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.output()}"
            )
        return port_open(self.port)

    def node_pids(self) -> list[int]:
        """The `node` processes of this container (its session's, seen through /proc)."""
        pids: list[int] = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                # Fields after the parenthesised name: state ppid pgrp session ...
                stat = (entry / "stat").read_text()
                session = int(stat.rsplit(")", 1)[1].split()[3])
                if session == self.process.pid and (entry / "comm").read_text().strip() == "node":
                    pids.append(int(entry.name))
        return pids

    def uids(self) -> set[int]:
        """The real and effective uids of this container's node processes."""
        uids: set[int] = set()
        for pid in self.node_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("Uid:"):
                        uids.update(int(uid) for uid in line.split()[1:3])
        return uids

    def stop(self) -> None:
        """SIGTERM the whole session (buildah and the app), SIGKILL if it lingers."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@dataclass
class Buildah:
    """buildah with its own storage under ``home`` (nothing shared with the host's)."""

    home: Path
    started: list[Running] = field(default_factory=list[Running])
    _names: int = 0

    def argv(self, *args: str) -> list[str]:
        return [
            "buildah",
            "--root",
            str(self.home / "storage"),
            "--runroot",
            str(self.home / "run"),
            "--storage-driver",
            "overlay",
            *args,
        ]

    def run_argv(self, container: str, argv: Sequence[str], *flags: str) -> list[str]:
        """The command line running ``argv`` in ``container`` (chroot isolation)."""
        return self.argv("run", "--isolation", "chroot", *flags, container, "--", *argv)

    def run(self, *args: str, timeout: float = 60.0) -> str:
        """Run a buildah command; its stdout+stderr, or an error showing them."""
        done = subprocess.run(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)} failed:\n{done.stdout}")
        return done.stdout

    def build(self, dockerfile: Path, tag: str, context: Path) -> Built:
        start = time.perf_counter()
        output = self.run(
            "bud",
            "--isolation",
            "chroot",
            "--layers",
            "--pull=never",
            "-f",
            str(dockerfile),
            "-t",
            tag,
            str(context),
            timeout=BUILD_TIMEOUT,
        )
        return Built(tag, output, time.perf_counter() - start)

    def inspect(self, image: str) -> dict[str, Any]:
        return json.loads(self.run("inspect", "--type", "image", image))

    def container(self, image: str) -> str:
        """A new working container from a local image; its name."""
        self._names += 1
        name = f"c{self._names}-{re.sub(r'[^a-z0-9]+', '-', image.rsplit('/', 1)[-1])}"
        self.run("from", "--pull=never", "--name", name, image)
        return name

    def exec(self, container: str, argv: Sequence[str], timeout: float = 60.0) -> str:
        """Run ``argv`` in ``container`` to completion; its output."""
        return self.run("run", "--isolation", "chroot", container, "--", *argv, timeout=timeout)

    def start(self, image: str, env: Mapping[str, str], *, what: str) -> Running:
        """Run ``image``'s CMD (with its ENV, USER, WORKDIR) in the background on a free port.

        ``PORT`` is overridden: chroot isolation shares the host's network, so
        the image's fixed port would collide between containers.
        """
        config = self.inspect(image)["OCIv1"]["config"]
        container = self.container(image)
        port = free_port()
        flags = [f"--env={name}={value}" for name, value in {**env, "PORT": str(port)}.items()]
        log = self.home / f"{container}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                self.run_argv(container, config["Cmd"], *flags),
                stdout=sink,
                stderr=subprocess.STDOUT,
                # Its own session: stop() signals buildah and the app together,
                # and node_pids() finds the app by session id.
                start_new_session=True,
            )
        running = Running(what, port, process, log)
        self.started.append(running)
        wait_until(
            running.serving, timeout=30, what=f"{what} to listen on {port}", diagnose=running.output
        )
        return running

    def clean(self) -> None:
        """Stop what was started, remove every working container, then the storage."""
        for running in self.started:
            running.stop()
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self.run("rm", "--all")
        shutil.rmtree(self.home, ignore_errors=True)


def build_node_standin(buildah: Buildah, workdir: Path) -> Built:
    """A stand-in for node:24, tagged docker.io/library/node:24, FROM scratch.

    It is NOT Node 24: it is this machine's Node.js (``/usr/bin/node``, with
    the libraries ``ldd`` lists and the dynamic loader), its npm, a ``/bin/sh`` and
    ``env`` (npm's launcher and ``npm run`` need them: busybox-static, else
    dash and coreutils' env),
    ``/etc/passwd`` with root and ``node`` (uid/gid 1000, home /home/node, as
    in node:24) and a world-writable /tmp. Enough for the sample's
    Dockerfiles (``npm ci``, ``npm run``, ``USER node``) to build and run.
    """
    rootfs = workdir / "rootfs"
    for folder in (
        "bin",
        "usr/bin",
        "usr/local/bin",
        "usr/lib/node_modules",
        "etc",
        "root",
        "home",
    ):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    (workdir / "node-home").mkdir(exist_ok=True)
    (rootfs / "tmp").mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    node = Path(os.path.realpath(shutil.which("node") or "/usr/bin/node"))
    copy_program(node, rootfs / "usr/bin/node", rootfs)
    npm = node.parent.parent / "lib/node_modules/npm"
    shutil.copytree(npm, rootfs / "usr/lib/node_modules/npm", symlinks=True)
    (rootfs / "usr/bin/npm").symlink_to("../lib/node_modules/npm/bin/npm-cli.js")
    (rootfs / "usr/bin/npx").symlink_to("../lib/node_modules/npm/bin/npx-cli.js")
    add_shell_and_env(rootfs)
    (rootfs / "etc/passwd").write_text(
        f"root:x:0:0:root:/root:/bin/sh\nnode:x:{NODE_UID}:{NODE_UID}::/home/node:/bin/sh\n"
    )
    (rootfs / "etc/group").write_text(f"root:x:0:\nnode:x:{NODE_UID}:\n")
    dockerfile = workdir / "Dockerfile"
    dockerfile.write_text(
        "FROM scratch\n"
        "COPY rootfs/ /\n"
        # COPY makes everything root's; node:24's /home/node is node's.
        f"COPY --chown={NODE_UID}:{NODE_UID} node-home/ /home/node/\n"
        "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin\n"
        'CMD ["node"]\n'
    )
    return buildah.build(dockerfile, NODE_STANDIN_TAG, workdir)


def add_shell_and_env(rootfs: Path) -> None:
    """``/bin/sh`` and ``/usr/bin/env``: ``npm run`` needs the one, npm's launcher the other.

    busybox-static when installed (one self-contained file), else dash and
    coreutils' env with the libraries they link.
    """
    busybox = shutil.which("busybox")
    if busybox is not None and not shared_libraries(Path(busybox)):
        shutil.copy2(busybox, rootfs / "bin/busybox")
        (rootfs / "bin/sh").symlink_to("busybox")
        (rootfs / "usr/bin/env").symlink_to("/bin/busybox")
        return
    for name, target in (("dash", "bin/sh"), ("env", "usr/bin/env")):
        program = shutil.which(name)
        if program is None:
            pytest.fail(f"the node:24 stand-in needs busybox-static or {name} on this machine")
        copy_program(Path(os.path.realpath(program)), rootfs / target, rootfs)


def copy_program(program: Path, target: Path, rootfs: Path) -> None:
    """``program`` at ``target`` in ``rootfs``, with the libraries and loader it links."""
    shutil.copy2(program, target)
    for library in shared_libraries(program):
        into = rootfs / library.relative_to("/")
        if not into.exists():
            into.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(library.resolve(), into)


def shared_libraries(binary: Path) -> list[Path]:
    """The absolute paths ``ldd`` lists for ``binary`` (libraries and the loader).

    None for a static binary (ldd then says "not a dynamic executable" and fails).
    """
    listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    return [Path(path) for path in re.findall(r"(/\S+)", listed.stdout)]


def sample_context(dest: Path) -> Path:
    """The sample copied as the engine's build context: without SOURCE_IGNORE's paths."""
    names = [pattern.removeprefix("**/") for pattern in SOURCE_IGNORE]

    def ignored(_folder: str, entries: list[str]) -> set[str]:
        return {entry for entry in entries if any(fnmatch.fnmatch(entry, n) for n in names)}

    shutil.copytree(SAMPLE, dest, ignore=ignored)
    return dest


def sample_tag(app: str) -> str:
    return f"localhost/metaboost-sample/{app}:test"


@dataclass
class SampleImages:
    """The stand-in base and the six sample images, built in one storage."""

    buildah: Buildah
    base: Built
    apps: dict[str, Built]


def build_sample_images(buildah: Buildah, workdir: Path) -> SampleImages:
    base = build_node_standin(buildah, workdir / "node-standin")
    context = sample_context(workdir / "context")
    apps = {
        app: buildah.build(context / dockerfile_path(app), sample_tag(app), context)
        for app in DEFAULT_APPS
    }
    return SampleImages(buildah, base, apps)


@contextlib.contextmanager
def buildah_home(prefix: str) -> Iterator[Buildah]:
    """A Buildah with fresh storage, cleaned up (containers, processes, files) on exit."""
    require_buildah()
    # Not pytest's tmp_path: it keeps the last runs, and these are 100+ MB each.
    buildah = Buildah(Path(tempfile.mkdtemp(prefix=prefix)))
    try:
        yield buildah
    finally:
        buildah.clean()


@pytest.fixture(scope="session")
def sample_images() -> Iterator[SampleImages]:
    """node:24's stand-in and the six sample images, built once per session."""
    with buildah_home("metaboost-buildah-") as buildah:
        yield build_sample_images(buildah, buildah.home / "work")
