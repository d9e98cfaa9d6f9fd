"""The Node.js container the npm steps run in (validate, lockfile)."""

from __future__ import annotations

import uuid

import dagger
from dagger import dag

# The seed's workflows and scripts use node:24; so do the sample's Dockerfiles.
NODE_IMAGE = "node:24"
NPM_CACHE = "/root/.npm"
WORKDIR = "/src"
# One npm download cache for every npm step of every run on this engine.
NPM_CACHE_VOLUME = "metaboost-ci-npm"
# A per-run value in the environment of an exec that reads the outside world
# (npm audit, an npm install that resolves): the exec cache cannot answer it.
RUN_VARIABLE = "METABOOST_CI_RUN"


def new_run_id() -> str:
    """A fresh value for ``RUN_VARIABLE`` (and smoke's markers): one per function call."""
    return uuid.uuid4().hex[:12]


def node_container(source: dagger.Directory, *, platform: str | None = None) -> dagger.Container:
    """node:24 with the monorepo at /src and the shared npm cache mounted."""
    base = dag.container(platform=dagger.Platform(platform)) if platform else dag.container()
    return (
        base.from_(NODE_IMAGE)
        .with_mounted_cache(NPM_CACHE, dag.cache_volume(NPM_CACHE_VOLUME))
        .with_env_variable("NPM_CONFIG_UPDATE_NOTIFIER", "false")
        .with_directory(WORKDIR, source)
        .with_workdir(WORKDIR)
    )
