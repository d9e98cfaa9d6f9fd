"""The tools container (``engine.tools.tools_image``) built with buildah, as near as it goes.

No image can be pulled here, so ``python:3.11-slim`` is a stand-in made FROM
scratch out of this machine's own CPython 3.11 (its prefix, standard library
and the libraries ``ldd`` lists; no site-packages, no tests), a busybox
``/bin/sh`` and the CA bundle, as ``containers.build_node_standin`` does for
node:24. The Containerfile then runs the engine's steps, read from
``tools_image``'s own call chain so the two cannot drift, with two
differences it says: the Debian step (``apt-get install git skopeo``) is
left out (no Debian userland in the stand-in), and ``ensurepip`` first
(python:3.11-slim ships pip; the stand-in does not).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagger import dag

from metaboost_ci.engine.tools import PROJECT_FILES, PYTHON_IMAGE, tools_image
from tests.support.containers import (
    Buildah,
    Built,
    add_shell_and_env,
    copy_program,
    shared_libraries,
)
from tests.support.dagger_offline import REPO, chain

PYTHON_STANDIN_TAG = f"docker.io/library/{PYTHON_IMAGE}"
TOOLS_TAG = "localhost/metaboost-ci/tools:cold"
LEFT_OUT = ("site-packages", "test", "idlelib", "tkinter", "turtledemo", "__pycache__")


def build_python_standin(buildah: Buildah, workdir: Path) -> Built:
    """A stand-in for python:3.11-slim (see the module doc), tagged as it."""
    prefix = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert version == "python3.11", f"the stand-in needs CPython 3.11, not {version}"
    rootfs = workdir / "rootfs"
    into = rootfs / prefix.relative_to("/")
    (into / "bin").mkdir(parents=True)
    for folder in ("tmp", "bin", "usr/bin", "etc/ssl/certs", "usr/local/bin", "root"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    python = Path(os.path.realpath(prefix / "bin" / version))
    copy_program(python, into / "bin" / version, rootfs)
    shutil.copytree(
        prefix / "lib" / version,
        into / "lib" / version,
        ignore=shutil.ignore_patterns(*LEFT_OUT),
        symlinks=True,
    )
    (into / "lib" / version / "site-packages").mkdir()
    for extension in (prefix / "lib" / version / "lib-dynload").glob("*.so"):
        # Each extension module with the system libraries it links (ssl, ffi, ...).
        copy_program(extension, into / "lib" / version / "lib-dynload" / extension.name, rootfs)
    for name in ("python3", "python"):
        (rootfs / "usr/local/bin" / name).symlink_to(prefix / "bin" / version)
    add_shell_and_env(rootfs)
    # uv reads the libc flavour from a dynamic executable's ELF interpreter
    # (/bin/sh, ..., /bin/ls); busybox-static has none, Debian's ls has.
    copy_program(Path(os.path.realpath(shutil.which("ls") or "/bin/ls")), rootfs / "bin/ls", rootfs)
    # python:3.11-slim's Debian base has the C runtime uv's binary links (libgcc_s).
    for library in shared_libraries(Path(sys.executable).with_name("uv")):
        target = rootfs / library.relative_to("/")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(library.resolve(), target)
    shutil.copy2("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (workdir / "Containerfile").write_text(
        "FROM scratch\n"
        "COPY rootfs/ /\n"
        f"ENV PATH={prefix}/bin:/usr/local/bin:/usr/bin:/bin\n"
        # This machine's trust store (which may hold a TLS-inspecting proxy's CA):
        # for uv (SSL_CERT_FILE) and pip (PIP_CERT), as on the host.
        "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\n"
        "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt\n"
        'CMD ["python3"]\n'
    )
    return buildah.build(workdir / "Containerfile", PYTHON_STANDIN_TAG, workdir)


def engine_steps() -> list[tuple[str, object]]:
    """``tools_image``'s call chain (fields and arguments), offline."""
    return [(name, args) for name, args in chain(tools_image(dag.directory()))]


def containerfile() -> str:
    """The engine's steps as a Containerfile (the Debian step left out; see the module doc)."""
    lines = [f"FROM {PYTHON_STANDIN_TAG}", "RUN python3 -m ensurepip --default-pip"]
    for name, args in engine_steps():
        values = dict(args) if isinstance(args, dict) else {}
        if name == "withExec":
            argv = list(values["args"])
            if "apt-get" in argv[-1]:
                continue
            lines.append(f"RUN {subprocess.list2cmdline(argv)}")
        elif name == "withEnvVariable":
            lines.append(f"ENV {values['name']}={values['value']}")
        elif name == "withDirectory":
            lines.append(f"COPY project/ {values['path']}/")
        elif name == "withWorkdir":
            lines.append(f"WORKDIR {values['path']}")
    # Cache mounts (withMountedCache) have no Containerfile form: a cold build has none anyway.
    return "\n".join(lines) + "\n"


def project_context(dest: Path) -> Path:
    """The module's files the tools container gets (``PROJECT_FILES``), from Git."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for path in tracked:
        if path and any(fnmatch.fnmatch(path, pattern) for pattern in PROJECT_FILES):
            (dest / "project" / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, dest / "project" / path)
    (dest / "Containerfile").write_text(containerfile())
    return dest


def build_tools_image(buildah: Buildah, context: Path) -> Built:
    """The tools image (cold, unless this storage built it before)."""
    return buildah.build(context / "Containerfile", TOOLS_TAG, context)
