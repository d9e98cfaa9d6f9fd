"""rehearse: the whole staging then main release, inside one Dagger session.

No credentials and nothing outside the session: a ``registry:2`` service
stands in for the registry and a bare Git repository stands in for GitHub's tags.
The release runs the same ``publish.publish_staging`` and
``publish.publish_main`` sequence as the real functions; only the three
adapters differ.

How the pieces reach the registry service (the design problem):

- **Pushes** are made by the engine, not by a container, so a service
  binding on some container does not help them. Since engine v0.21.6
  ``Container.publish`` takes ``registryService``: the engine starts that
  service for the push and dials it for the address's host name, keeping the
  name in the request (PR dagger/dagger#13305, the "registryService" entry of
  the v0.21.6 changelog, ``Container.publish`` in the v0.21.11 schema). We
  publish to ``localhost:5000/...``: the engine's registry resolver treats
  ``localhost`` as plain HTTP with no engine configuration
  (``docker.MatchLocalhost``), which the ``registry:2`` service speaks; any
  other host name would be tried over HTTPS first and fail.
- **The release core** (reserve, verify, move ``staging``, release,
  promote) needs HTTP to the registry and ``git`` for the tag store. The
  module's own Python process cannot be bound to a service: service bindings
  attach to containers (``Container.withServiceBinding``), and the module
  runtime has no ``git``. ``Service.up`` could tunnel a port into the runtime
  container, but it is meant for the CLI and blocks until cancelled. So the
  core runs where bindings are documented to work: in the *tools container*
  every release operation runs in (``tools``: python + git + this project,
  installed from ``dag.current_module().source()`` with its lock), bound to
  the registry as ``registry``, through the project's own command line:
  ``metaboost-ci --registry http://registry:5000 --git-remote
  /rehearsal/remote.git --json <command>``. The same ``tools.CliOps`` that
  production runs; only its ``CliTarget`` differs.
- ``--push-with skopeo`` is the fallback should an engine not dial the
  service for ``localhost`` as read above: the engine exports each image as
  an OCI tarball (``Container.asTarball``) and ``skopeo copy`` in the tools
  container, bound to the service, pushes it. Only long-standing, documented
  features; the images are the same, the digests are the registry's.
- **The throwaway Git remote** is a bare repository inside the tools
  container. Every command runs on the container the previous one left
  behind, so the remote's tags carry from step to step like a real remote's.

The registry service is started explicitly (``Service.start``) so the same
instance serves every push and every command, and is stopped at the end.
A fresh ``run_id`` in the registry's and the tools container's environment
gives each rehearsal its own registry and Git remote, and every command exec
carries it too (``tools.Cli``), so nothing is answered from an earlier run.
"""

from __future__ import annotations

import dagger
from dagger import dag

from ..core.apps import image_name
from ..core.errors import InputError
from ..core.flows import PublishSummary
from ..core.progress import Progress
from .build import AppImage
from .bump import read_base_version
from .pipeline import BuildPlan, staging_steps
from .publish import (
    EnginePusher,
    Pusher,
    StagingRequest,
    publish_main,
    publish_staging,
)
from .tools import MONOREPO_DIR, Cli, CliOps, CliTarget, tools_image, with_monorepo

REGISTRY_IMAGE = "registry:2"
REGISTRY_PORT = 5000
# The engine pushes here (plain HTTP because it is localhost; dialled to the service).
PUSH_HOST = f"localhost:{REGISTRY_PORT}"
# The tools container reaches the same service under this alias.
REGISTRY_ALIAS = "registry"
TOOLS_REGISTRY_URL = f"http://{REGISTRY_ALIAS}:{REGISTRY_PORT}"
REMOTE_DIR = "/rehearsal/remote.git"
DEFAULT_REPOSITORY = "rehearsal/metaboost"
GIT_IDENTITY = (
    ("GIT_AUTHOR_NAME", "metaboost-ci rehearsal"),
    ("GIT_AUTHOR_EMAIL", "rehearsal@metaboost-ci.invalid"),
    ("GIT_COMMITTER_NAME", "metaboost-ci rehearsal"),
    ("GIT_COMMITTER_EMAIL", "rehearsal@metaboost-ci.invalid"),
)
# --push-with choices, and how the report says each reached the registry.
PUSHED_BY = {
    "engine": f"the engine pushed to it as `{PUSH_HOST}`",
    "skopeo": f"skopeo pushed to it as `{REGISTRY_ALIAS}:{REGISTRY_PORT}`",
}
PUSH_WITH = tuple(PUSHED_BY)
TARBALL = "/rehearsal/image.tar"
DIGEST_FILE = "/rehearsal/digest"
INIT_REPOSITORIES = (
    f"git init -q -b main {MONOREPO_DIR} && cd {MONOREPO_DIR} && git add -A "
    "&& git commit -q -m 'The rehearsed monorepo' "
    f"&& git init -q --bare {REMOTE_DIR} && git push -q {REMOTE_DIR} main"
)
# The rehearsal's tools container and registry carry its run id here.
REHEARSAL_VARIABLE = "METABOOST_CI_REHEARSAL"


def registry_service(run_id: str) -> dagger.Service:
    """A fresh ``registry:2`` on port 5000 (the run id makes it this run's own)."""
    return (
        dag.container()
        .from_(REGISTRY_IMAGE)
        .with_env_variable(REHEARSAL_VARIABLE, run_id)
        .with_exposed_port(REGISTRY_PORT)
        .as_service(use_entrypoint=True)
    )


def tools_container(
    module_source: dagger.Directory,
    monorepo: dagger.Directory,
    registry: dagger.Service,
    run_id: str,
) -> dagger.Container:
    """The tools, the monorepo committed, a bare remote, the registry bound."""
    container = tools_image(module_source)
    for name, value in GIT_IDENTITY:
        container = container.with_env_variable(name, value)
    return (
        # From here on every step is this run's own (never a cached answer).
        with_monorepo(container.with_env_variable(REHEARSAL_VARIABLE, run_id), monorepo)
        .with_exec(["sh", "-c", INIT_REPOSITORIES])
        .with_service_binding(REGISTRY_ALIAS, registry)
    )


def rehearsal_target(repository: str, apps: tuple[str, ...]) -> CliTarget:
    """The command line pointed at the session's registry and throwaway remote."""
    return CliTarget(TOOLS_REGISTRY_URL, repository, apps, git_remote=REMOTE_DIR)


class SkopeoPusher:
    """Pushes with ``skopeo copy`` from the tools container (see the module doc)."""

    def __init__(self, tools: dagger.Container, repository: str) -> None:
        self.tools = tools
        self.repository = repository

    def image(self, app: str) -> str:
        return f"{REGISTRY_ALIAS}:{REGISTRY_PORT}/{image_name(self.repository, app)}"

    def copy(self, image: AppImage, tag: str) -> dagger.Container:
        """The container whose exec copies ``image``'s tarball to ``tag``."""
        if len(image.variants) == 1:
            tarball = image.primary.as_tarball()
        else:
            tarball = dag.container().as_tarball(platform_variants=list(image.variants))
        return self.tools.with_mounted_file(TARBALL, tarball).with_exec(
            [
                "skopeo",
                "copy",
                "--all",
                "--quiet",
                "--dest-tls-verify=false",
                "--digestfile",
                DIGEST_FILE,
                f"oci-archive:{TARBALL}",
                f"docker://{self.image(image.app)}:{tag}",
            ]
        )

    async def push(self, image: AppImage, tag: str) -> str:
        return (await self.copy(image, tag).file(DIGEST_FILE).contents()).strip()


def check_push_with(push_with: str) -> str:
    if push_with not in PUSH_WITH:
        raise InputError(
            f"Unknown --push-with {push_with!r}.", fix=f"Choose from: {', '.join(PUSH_WITH)}."
        )
    return push_with


def choose_pusher(
    push_with: str, *, tools: dagger.Container, registry: dagger.Service, repository: str
) -> Pusher:
    if check_push_with(push_with) == "skopeo":
        return SkopeoPusher(tools, repository)
    return EnginePusher(PUSH_HOST, repository, registry_service=registry)


def rehearsal_report(
    staging: PublishSummary,
    main: PublishSummary,
    *,
    commit: str,
    remote_tags: str,
    pushed_by: str,
) -> str:
    """The Markdown a newcomer reads: both summaries and the Git tags made."""
    tags = "\n".join(
        line.split("\t", 1)[-1].removeprefix("refs/tags/") for line in remote_tags.splitlines()
    )
    return "\n".join(
        [
            "## Rehearsal: staging then main, inside one Dagger session",
            "",
            f"Commit `{commit}` of the rehearsed monorepo. The registry is a `registry:2` "
            f"service ({pushed_by}, the release commands read it "
            f"as `{REGISTRY_ALIAS}:{REGISTRY_PORT}`); the tags went to a throwaway Git remote, "
            "so no GitHub release was made. Nothing left the session.",
            "",
            staging.markdown(),
            main.markdown(),
            "Git tags on the throwaway remote:",
            "",
            "```",
            tags,
            "```",
            "",
        ]
    )


async def remote_tags(cli: Cli) -> str:
    """``git ls-remote --tags`` of the throwaway remote, after the last command, for the report."""
    return await cli.container.with_exec(["git", "ls-remote", "--tags", REMOTE_DIR]).stdout()


async def stop_quietly(service: dagger.Service, progress: Progress) -> None:
    try:
        await service.stop()
    except dagger.QueryError as error:  # the session ends soon anyway
        progress.step(f"Stopping the rehearsal registry failed: {error}")


async def run_rehearsal(
    plan: BuildPlan,
    *,
    module_source: dagger.Directory,
    progress: Progress,
    push_with: str = "engine",
) -> str:
    """Staging then main against this session's registry; the Markdown report."""
    check_push_with(push_with)  # before any work
    run_id = plan.run_id
    base = await read_base_version(plan.source)
    progress.step(f"Rehearsal {run_id}: starting a registry:2 service.")
    registry = await registry_service(run_id).start()
    try:
        tools = tools_container(module_source, plan.source, registry, run_id)
        commit = (await tools.with_exec(["git", "rev-parse", "HEAD"]).stdout()).strip()
        cli = Cli(tools, rehearsal_target(plan.repository, plan.apps), run_id)
        ops = CliOps(cli)
        pusher = choose_pusher(
            push_with, tools=tools, registry=registry, repository=plan.repository
        )
        staging = await publish_staging(
            StagingRequest(commit=commit, base=base),
            steps=staging_steps(plan, commit=commit),
            pusher=pusher,
            ops=ops,
            progress=progress,
        )
        main = await publish_main(
            commit=commit, base=base, dry_run=False, ops=ops, progress=progress
        )
        return rehearsal_report(
            staging,
            main,
            commit=commit,
            remote_tags=await remote_tags(cli),
            pushed_by=PUSHED_BY[push_with],
        )
    finally:
        await stop_quietly(registry, progress)
