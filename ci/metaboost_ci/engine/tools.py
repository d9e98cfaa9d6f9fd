"""The one release path: the ``metaboost-ci`` command line in a tools container.

Every release operation the module runs (reserve, present, verify, move the
floating tag, release, promote; the ``verify`` and ``plan`` functions) is a
``metaboost-ci ... --json`` command in one container built from this
module's own source with the locked dependencies (``uv.lock``). Production
and ``rehearse`` differ only in where that container points (``CliTarget``):
the registry and api.github.com, or the rehearsal's registry service and
throwaway Git remote. So the rehearsal, the engine tests, the command-line
tests and production run the same code, and a CI failure reproduces at home
with the same command line.

- **Secrets** reach the command line as Dagger secret variables
  (``with_secret_variable``: the engine scrubs them from logs and never
  writes them into a layer); the module's Python process never reads one.
- **Results** come back as the command's JSON document on stdout; a failure
  as the command line's error document (one sentence, problems, fix), raised
  again here as the same kind of error (``command_failure``).
- **Never cached.** Every command exec carries this run's id in its
  environment (``RUN_VARIABLE``), so the engine's exec cache can never answer
  a reservation, a tag move or a registry read from an earlier run.

``Cli.run`` is the reusable piece: any subcommand, its JSON back.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import dagger
from dagger import dag

from ..core.errors import CheckFailed, InputError, MetaboostCiError
from ..core.flows import Discovery, PublishSummary, ReleaseOutcome, Reservation, Verification
from ..core.registry.profile import PROFILE
from ..core.settings import DEFAULT_GITHUB_API
from ..core.versions import parse_staging_version
from .node import RUN_VARIABLE, new_run_id
from .ops import KeptImage
from .publish import RegistryAuth

# requires-python's minimum, as the module runtime uses.
PYTHON_IMAGE = "python:3.11-slim"
# The uv of the engine's Python runtime at the pinned version
# (sdk/python/runtime/images/uv/Dockerfile): it made uv.lock, so the
# runtime's own `uv lock` leaves the lock as it is; every install uses it.
UV_VERSION = "0.10.3"
PROJECT_DIR = "/opt/metaboost-ci"
VENV_DIR = "/opt/venv"
MONOREPO_DIR = "/work/monorepo"
# What the tools container needs of this project to install it from the lock.
PROJECT_FILES = ["pyproject.toml", "uv.lock", "README.md", "ci/**"]
# Where the command line reads its credentials (see `metaboost-ci --help`).
GITHUB_TOKEN_VARIABLE = "GITHUB_TOKEN"  # noqa: S105 - a variable's name
REGISTRY_TOKEN_VARIABLE = PROFILE.token_variables[0]
REGISTRY_USERNAME_VARIABLE = PROFILE.username_variables[0]
SYSTEM_PACKAGES = ("git", "skopeo")


def tools_image(module_source: dagger.Directory) -> dagger.Container:
    """python + git + skopeo + metaboost-ci installed from ``uv.lock`` (``--locked``).

    Cached on purpose: a pure function of the module's source and its lock
    (a stale lock fails ``uv sync --locked`` rather than resolving anew).
    The Debian tools are whatever the base image's release ships; their
    patch level decides nothing about a release. What reads the outside
    world at run time is each command (``Cli.run``), and that is never cached.
    """
    return (
        dag.container()
        .from_(PYTHON_IMAGE)
        .with_exec(
            [
                "sh",
                "-c",
                "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                f"{' '.join(SYSTEM_PACKAGES)} >/dev/null && rm -rf /var/lib/apt/lists/*",
            ]
        )
        .with_mounted_cache("/root/.cache/pip", dag.cache_volume("metaboost-ci-pip"))
        .with_exec(["pip", "install", "-q", "--disable-pip-version-check", f"uv=={UV_VERSION}"])
        .with_mounted_cache("/root/.cache/uv", dag.cache_volume("metaboost-ci-uv"))
        .with_env_variable("UV_PROJECT_ENVIRONMENT", VENV_DIR)
        .with_env_variable("UV_LINK_MODE", "copy")
        .with_directory(PROJECT_DIR, module_source, include=PROJECT_FILES)
        .with_workdir(PROJECT_DIR)
        .with_exec(["uv", "sync", "--locked", "--no-dev", "--no-editable", "--quiet"])
        .with_env_variable("PATH", f"{VENV_DIR}/bin:$PATH", expand=True)
    )


def with_monorepo(tools: dagger.Container, monorepo: dagger.Directory) -> dagger.Container:
    """The tools with the monorepo at ``MONOREPO_DIR`` (``--source``: changelog, package.json)."""
    return tools.with_directory(MONOREPO_DIR, monorepo).with_workdir(MONOREPO_DIR)


@dataclass(frozen=True)
class CliSecrets:
    """The credential arguments of a module function, as the command line's environment."""

    github_token: dagger.Secret | None = None
    registry_token: dagger.Secret | None = None
    registry_username: str = ""

    def apply(self, container: dagger.Container) -> dagger.Container:
        if self.github_token is not None:
            container = container.with_secret_variable(GITHUB_TOKEN_VARIABLE, self.github_token)
        if self.registry_token is not None:
            container = container.with_secret_variable(REGISTRY_TOKEN_VARIABLE, self.registry_token)
        if self.registry_username:
            # A name, not a secret: masking it would mask image names (often its owner).
            container = container.with_env_variable(
                REGISTRY_USERNAME_VARIABLE, self.registry_username
            )
        return container

    def push_auth(self) -> RegistryAuth | None:
        """What the engine's pushes authenticate with: the registry token, else the GitHub one."""
        secret = self.registry_token or self.github_token
        if secret is None:
            return None
        return RegistryAuth(self.registry_username or PROFILE.fallback_username, secret)


@dataclass(frozen=True)
class CliTarget:
    """Where the command line points: its global options."""

    registry_url: str
    repository: str
    apps: tuple[str, ...]
    github_api_url: str = DEFAULT_GITHUB_API
    # A Git remote as the tag store (rehearse) instead of the GitHub API.
    git_remote: str | None = None

    def global_args(self, *, as_json: bool = True) -> list[str]:
        store = (
            ["--git-remote", self.git_remote]
            if self.git_remote
            else ["--github-api-url", self.github_api_url]
        )
        registry = ["--registry", self.registry_url, "--repository", self.repository]
        return [*registry, "--apps", ",".join(self.apps), *store, *(["--json"] if as_json else [])]


def command_failure(command: str, exit_code: int, stdout: str, stderr: str) -> MetaboostCiError:
    """The command line's own error (its ``--json`` error document), raised again here."""
    try:
        document = cast(dict[str, Any], json.loads(stdout)["error"])
    except (ValueError, KeyError, TypeError):
        # Not our error document (a crash, a missing executable): the last lines say why.
        lines = (stderr or stdout).strip().splitlines()[-10:]
        return CheckFailed(f"metaboost-ci {command} failed with exit code {exit_code}.", lines)
    message = str(document.get("message") or f"metaboost-ci {command} failed.")
    fix = cast(str | None, document.get("fix"))
    if document.get("exit_code") == InputError.exit_code:
        return InputError(message, fix=fix)
    problems = [str(p) for p in cast(list[Any], document.get("problems") or [])]
    return CheckFailed(message, problems, fix=fix)


@dataclass
class Cli:
    """``metaboost-ci`` in a tools container, one command after another.

    Each command runs on the container the previous one left, so local state
    (the rehearsal's Git remote) carries from step to step like a remote's.
    """

    container: dagger.Container
    target: CliTarget
    run_id: str
    commands: list[list[str]] = field(default_factory=lambda: [])

    def exec(
        self, *args: str, as_json: bool = True, expect: dagger.ReturnType | None = None
    ) -> dagger.Container:
        """The container whose exec runs ``metaboost-ci <global options> args``.

        ``as_json=False``: the command's text for people instead of its JSON
        document; ``expect=ReturnType.ANY`` for a command whose exit code says
        something (``status``: 1 when inconsistent).
        """
        argv = ["metaboost-ci", *self.target.global_args(as_json=as_json), *args]
        # This run's id in the exec's own environment: never a cached answer.
        step = self.container.with_env_variable(RUN_VARIABLE, self.run_id)
        if expect is None:
            return step.with_exec(argv)
        return step.with_exec(argv, expect=expect)

    async def run(self, *args: str) -> dict[str, Any]:
        """Run one command; its JSON document, or its error raised as ours."""
        return cast(dict[str, Any], json.loads((await self.output(*args))[1]))

    async def output(
        self, *args: str, as_json: bool = True, ok: tuple[int, ...] = (0,)
    ) -> tuple[int, str]:
        """Run one command; (its exit code, its stdout) when the code is in ``ok``,
        else its error raised as ours."""
        self.commands.append(list(args))
        if ok == (0,):
            step = self.exec(*args, as_json=as_json)
            try:
                out = await step.stdout()
            except dagger.ExecError as error:
                raise command_failure(
                    args[0], error.exit_code, error.stdout, error.stderr
                ) from None
            self.container = step
            return 0, out
        step = self.exec(*args, as_json=as_json, expect=dagger.ReturnType.ANY)
        code, out = await step.exit_code(), await step.stdout()
        if code not in ok:
            raise command_failure(args[0], code, out, await step.stderr())
        self.container = step
        return code, out


def release_cli(
    module_source: dagger.Directory,
    monorepo: dagger.Directory,
    target: CliTarget,
    secrets: CliSecrets,
    *,
    run_id: str | None = None,
) -> Cli:
    """The production command line: the monorepo mounted, the secrets in its environment."""
    container = secrets.apply(with_monorepo(tools_image(module_source), monorepo))
    return Cli(container, target, run_id or new_run_id())


class CommandRunner(Protocol):
    """What ``CliOps`` needs: ``Cli``, or a local process in the tests."""

    commands: list[list[str]]

    async def run(self, *args: str) -> dict[str, Any]: ...


class CliOps:
    """``ReleaseOps`` as ``metaboost-ci`` commands (the only implementation)."""

    def __init__(self, cli: CommandRunner, *, source: str = MONOREPO_DIR) -> None:
        self.cli = cli
        # The monorepo checkout in the container: release notes come from its changelog.
        self.source = source

    @property
    def commands(self) -> list[list[str]]:
        return self.cli.commands

    async def run(self, *args: str) -> dict[str, Any]:
        return await self.cli.run(*args)

    async def reserve(self, *, commit: str, base: str, override: str | None, dry_run: bool) -> str:
        args = ["reserve", "--commit", commit, "--base-version", base]
        args += ["--version-override", override] if override else []
        args += ["--dry-run"] if dry_run else []
        return Reservation.from_dict(await self.run(*args)).version

    async def present(self, *, version: str) -> list[KeptImage]:
        """The apps that have ``version``, with the revisions of exactly the images found.

        ``discover`` names the apps whose tag list has it; ``verify --revisions``
        restricted to those apps (``--apps``) reads the digest each tag names and
        the revision labels of exactly that image. An empty registry is one
        ``discover`` and nothing more.
        """
        staging = parse_staging_version(version)
        if staging is None:
            return []
        found = Discovery.from_dict(await self.run("discover", "--base-version", staging.base))
        apps = [app for app, tags in found.apps.items() if staging.n in tags.staging]
        if not apps:
            return []
        verified = Verification.from_dict(
            await self.run("verify", "--apps", ",".join(apps), "--version", version, "--revisions")
        )
        revisions = verified.revisions or {}
        return [KeptImage(app, tuple(revisions[app])) for app in apps]

    async def verify(self, *, version: str, float_tag: str | None) -> dict[str, str]:
        args = ["verify", "--version", version] + (["--float-tag", float_tag] if float_tag else [])
        return Verification.from_dict(await self.run(*args)).digests

    async def move_floating(self, *, version: str, float_tag: str) -> None:
        await self.run("move-floating", "--version", version, "--float-tag", float_tag)

    async def release(self, *, tag: str, commit: str, prerelease: bool) -> str:
        args = ["release", "--tag", tag, "--commit", commit, "--source", self.source]
        result = await self.run(*args, *(["--prerelease"] if prerelease else []))
        return ReleaseOutcome.from_dict(result).sentence()

    async def promote(self, *, commit: str, base: str, dry_run: bool) -> PublishSummary:
        args = ["promote", "--commit", commit, "--base-version", base, "--source", self.source]
        result = await self.run(*args, *(["--dry-run"] if dry_run else []))
        summary = PublishSummary.from_dict(cast(dict[str, Any], result["summary"]))
        head = f"Git tag {base}: {result['git_tag']}."
        notes = ("Dry run: nothing was written." if dry_run else head, *summary.notes)
        return dataclasses.replace(summary, notes=notes)
