"""lockfile: package-lock.json regenerated under Linux, as the old script did.

``npm install`` records platform-specific optional dependencies for the
platform it runs on; a lockfile made on a Mac lacks the Linux ones and
``npm ci`` in CI then fails. So: node:24, linux/amd64, no node_modules.
"""

from __future__ import annotations

import dagger

from .node import RUN_VARIABLE, WORKDIR, node_container

LOCKFILE = "package-lock.json"
LOCK_PLATFORM = "linux/amd64"
# Workspaces have their own node_modules; none may survive into the install.
REMOVE_NODE_MODULES = "find . -name node_modules -type d -prune -exec rm -rf {} +"


def lockfile_container(source: dagger.Directory, *, run_id: str) -> dagger.Container:
    """The container that regenerates the lockfile of ``source``.

    ``npm install`` resolves against the registry as it is now: ``run_id`` in
    its environment keeps the engine from answering with an earlier run's lockfile.
    """
    return (
        node_container(source, platform=LOCK_PLATFORM)
        .with_exec(["sh", "-c", REMOVE_NODE_MODULES])
        .with_env_variable(RUN_VARIABLE, run_id)
        .with_exec(["npm", "install", "--include=optional", "--no-audit", "--no-fund"])
    )


def regenerate_lockfile(source: dagger.Directory, *, run_id: str) -> dagger.File:
    """``package-lock.json`` as ``npm install`` leaves it, workspaces included."""
    return lockfile_container(source, run_id=run_id).file(f"{WORKDIR}/{LOCKFILE}")
