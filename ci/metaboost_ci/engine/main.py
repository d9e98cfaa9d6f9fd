"""The ``MetaboostCi`` module object: the functions ``dagger call`` runs.

Every function is thin: it checks its input, builds the pieces and calls
``publish`` (the order of a release), ``rehearse`` or the ``core.flows``
operations the ``metaboost-ci`` command line calls too. The user-facing
module description is the package docstring (``engine/__init__.py``).
"""

from __future__ import annotations

from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type

from ..core.apps import choose_known, image_name, validate_app_names
from ..core.errors import InputError
from ..core.flows.rollback import require_rollback_target
from ..core.progress import StderrProgress
from ..core.registry.profile import PROFILE
from ..core.settings import DEFAULT_GITHUB_API, Settings
from ..core.tags import require_commit_sha
from ..core.versions import require_base_version
from .build import build_app, parse_platforms
from .bump import bump_version, read_base_version
from .errors import as_function_error
from .lockfile import regenerate_lockfile
from .node import new_run_id
from .operate import check_format, promotion_plan_text, rollback_report, status_report
from .pipeline import BuildPlan, staging_steps
from .publish import (
    EnginePusher,
    StagingRequest,
    publish_main,
    publish_staging,
    summary_document,
)
from .rehearse import DEFAULT_REPOSITORY, check_push_with, run_rehearsal
from .smoke import SmokeOptions, smoke_test
from .tools import MONOREPO_DIR, Cli, CliOps, CliSecrets, CliTarget, release_cli
from .validate import STEP_NAMES, choose_steps, run_validate

# Build outputs and dependencies never belong in a build context.
SOURCE_IGNORE = [
    "**/node_modules",
    "**/.next",
    "**/dist",
    "**/build",
    "**/coverage",
    ".git",
]
SAMPLE_DIR = "sample"

Platforms = Annotated[
    list[str] | None,
    Doc("Platforms to build, e.g. linux/amd64 (default); several make a multi-platform image"),
]
Commit = Annotated[str, Doc("The full SHA of the commit being published (in Actions: $GITHUB_SHA)")]
GitHubToken = Annotated[
    dagger.Secret, Doc("GitHub token (contents: write, packages: write), e.g. env://GITHUB_TOKEN")
]
OptionalGitHubToken = Annotated[
    dagger.Secret | None, Doc("GitHub token, for private packages and the tag store")
]
RegistryToken = Annotated[
    dagger.Secret | None,
    Doc(f"Registry token (default: the GitHub token), e.g. env://{PROFILE.token_variables[0]}"),
]
RegistryUsername = Annotated[str, Doc(f"Registry username (default: {PROFILE.fallback_username})")]
AsJson = Annotated[
    bool,
    Doc(
        "Return one JSON document (version, each app's image and digest, the Markdown) "
        "instead of the Markdown summary"
    ),
]


@object_type
class MetaboostCi:
    """Metaboost's release pipeline: validate, build, smoke-test, publish and promote six images."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(SOURCE_IGNORE),
        Doc(
            "The Metaboost monorepo (default: the repository root, without dependencies, "
            "build outputs and .git)"
        ),
    ]
    registry: Annotated[str, Doc("Registry host the images go to")] = PROFILE.host
    repository: Annotated[
        str, Doc("OWNER/REPO: images are REGISTRY/OWNER/REPO/<app>; needed to publish")
    ] = ""
    github_api_url: Annotated[
        str, Doc("GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3)")
    ] = DEFAULT_GITHUB_API
    apps: Annotated[
        list[str] | None,
        Doc(
            "Apps to build and publish (default: the six; each has "
            "infra/docker/local/<app>/Dockerfile)"
        ),
    ] = None

    # ------------------------------------------------------------- helpers

    def app_names(self) -> tuple[str, ...]:
        return validate_app_names(self.apps)

    def require_repository(self) -> str:
        if not self.repository:
            raise InputError(
                "No repository given.",
                fix="Pass --repository OWNER/REPO to the module (dagger call --repository ...).",
            )
        return self.repository

    def build_plan(
        self,
        platforms: list[str] | None,
        *,
        source: dagger.Directory | None = None,
        repository: str | None = None,
        stay_seconds: int = 2,
    ) -> BuildPlan:
        run_id = new_run_id()
        return BuildPlan(
            source=source or self.source,
            apps=self.app_names(),
            platforms=parse_platforms(platforms),
            repository=self.repository if repository is None else repository,
            smoke=SmokeOptions(stay_seconds=stay_seconds, run_id=run_id),
            run_id=run_id,
        )

    def settings(self, apps: tuple[str, ...] | None = None) -> Settings:
        """The registry and repository, checked (bad input fails here, before any work)."""
        return Settings(
            repository=self.require_repository(),
            registry_url=self.registry,
            apps=apps or self.app_names(),
            github_api_url=self.github_api_url,
        )

    def release_cli(self, secrets: CliSecrets, apps: tuple[str, ...] | None = None) -> Cli:
        """``metaboost-ci`` in the tools container, pointed at this module's registry and
        repository, with ``secrets`` in its environment: run any subcommand, get its JSON."""
        settings = self.settings(apps)
        target = CliTarget(
            self.registry, settings.repository, settings.apps, settings.github_api_url
        )
        return release_cli(dag.current_module().source(), self.source, target, secrets)

    async def version_or_package(self, version: str) -> str:
        return version or await read_base_version(self.source)

    # ------------------------------------------------------------- caching
    # Dagger caches a function without `cache=` for up to 7 days: a second call
    # with the same inputs returns the old answer without running anything.
    # Each function states its policy in its doc: "session" runs on every
    # `dagger call` (deduplicated within one session), "never" on every call.
    # Execs that read the outside world carry a per-run value as well (see
    # validate, lockfile, tools), since the exec cache is separate from this
    # one. `cache=` works at runtime; the SDK's type stubs omit it, hence the
    # pyright ignores.

    # ------------------------------------------------------------- checks

    @function(cache="session")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def validate(
        self,
        steps: Annotated[
            list[str] | None,
            Doc(f"Steps to run, in order (default: all): {', '.join(STEP_NAMES)}"),
        ] = None,
    ) -> str:
        """Run the monorepo's checks in node:24; runs on every call, the npm audit always afresh."""
        passed = await run_validate(self.source, choose_steps(steps), run_id=new_run_id())
        return "\n".join(passed)

    @function
    @as_function_error
    async def build(
        self,
        app: Annotated[str, Doc("The app to build, e.g. api")],
        platforms: Platforms = None,
        version: Annotated[str, Doc("Version label (default: package.json's)")] = "",
        commit: Annotated[str, Doc("Revision label (default: none)")] = "",
    ) -> dagger.Container:
        """Build one app's image (first platform) from the repository root; cached: pure."""
        choose_known([app], self.app_names(), what="app")
        plan = self.build_plan(platforms)
        meta = plan.meta(commit=commit, version=await self.version_or_package(version))
        return build_app(self.source, app, plan.platforms[0], meta)

    @function
    @as_function_error
    async def build_all(
        self,
        platforms: Platforms = None,
        version: Annotated[str, Doc("Version label (default: package.json's)")] = "",
        commit: Annotated[str, Doc("Revision label (default: none)")] = "",
    ) -> list[dagger.Container]:
        """Build every app for every platform concurrently, in one session; cached: pure."""
        plan = self.build_plan(platforms)
        images = await plan.build_all(commit=commit, version=await self.version_or_package(version))
        return [variant for image in images for variant in image.variants]

    @function(cache="session")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def smoke(
        self,
        stay_seconds: Annotated[int, Doc("How long each app must stay up")] = 2,
    ) -> str:
        """Build every app; check each starts, stays up, serves its config; runs on every call."""
        if stay_seconds < 0:
            raise InputError(
                f"--stay-seconds {stay_seconds} is negative.", fix="Give 0 or more seconds."
            )
        plan = self.build_plan(None, stay_seconds=stay_seconds)
        images = await plan.build_all(commit="", version=await self.version_or_package(""))
        lines = await smoke_test(images, plan.smoke)
        return "\n".join([f"Smoke run {plan.smoke.run_id}:", *lines])

    # ------------------------------------------------------------- publish
    # Side effects and reads of remote state: never cached, and every release
    # operation is a `metaboost-ci` command in the tools container (`tools`).

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def publish_staging(
        self,
        commit: Commit,
        github_token: GitHubToken,
        registry_token: RegistryToken = None,
        registry_username: RegistryUsername = "",
        version_override: Annotated[
            str, Doc("Reserve exactly this X.Y.Z-staging.N (emergency republish)")
        ] = "",
        dry_run: Annotated[
            bool, Doc("Validate, build and smoke-test; tag, push and release nothing")
        ] = False,
        platforms: Platforms = None,
        json: AsJson = False,
    ) -> str:
        """Publish staging: validate while building, smoke, reserve, push, release; never cached."""
        commit = require_commit_sha(commit)
        plan = self.build_plan(platforms)
        settings = self.settings(plan.apps)
        base = await read_base_version(self.source)
        secrets = CliSecrets(github_token, registry_token, registry_username)
        summary = await publish_staging(
            StagingRequest(
                commit=commit, base=base, override=version_override or None, dry_run=dry_run
            ),
            steps=staging_steps(plan, commit=commit),
            pusher=EnginePusher(
                settings.registry_host, settings.repository, auth=secrets.push_auth()
            ),
            ops=CliOps(self.release_cli(secrets, plan.apps)),
            progress=StderrProgress(),
        )
        return summary_document(summary) if json else summary.markdown()

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def publish_main(
        self,
        commit: Commit,
        github_token: GitHubToken,
        registry_token: RegistryToken = None,
        registry_username: RegistryUsername = "",
        dry_run: Annotated[bool, Doc("Decide and report; write nothing")] = False,
        json: AsJson = False,
    ) -> str:
        """Publish main: promote the staging build to X.Y.Z and latest; never cached."""
        commit = require_commit_sha(commit)
        self.settings()
        base = await read_base_version(self.source)
        secrets = CliSecrets(github_token, registry_token, registry_username)
        summary = await publish_main(
            commit=commit,
            base=base,
            dry_run=dry_run,
            ops=CliOps(self.release_cli(secrets)),
            progress=StderrProgress(),
        )
        return summary_document(summary) if json else summary.markdown()

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def verify(
        self,
        version: Annotated[str, Doc("The immutable tag, e.g. 1.2.0-staging.3 or 1.2.0")],
        float_tag: Annotated[str, Doc("Also check this floating tag names the same digest")] = "",
        registry_token: RegistryToken = None,
        registry_username: RegistryUsername = "",
        github_token: OptionalGitHubToken = None,
    ) -> str:
        """Check every app has the version (and floating) tag on one digest; never cached."""
        settings = self.settings()
        secrets = CliSecrets(github_token, registry_token, registry_username)
        args = ["verify", "--version", version] + (["--float-tag", float_tag] if float_tag else [])
        result = await self.release_cli(secrets).run(*args)
        digests: dict[str, str] = result["digests"]
        tags = " and ".join(t for t in (version, float_tag) if t)
        rows = [
            f"{settings.registry_host}/{image_name(settings.repository, app)}@{digest}"
            for app, digest in digests.items()
        ]
        return "\n".join([f"Verified {tags} on {len(rows)} apps:", *rows])

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def plan(
        self,
        commit: Commit,
        staging: Annotated[
            bool, Doc("Plan the staging reservation instead of the main promotion")
        ] = False,
        github_token: OptionalGitHubToken = None,
        registry_token: RegistryToken = None,
        registry_username: RegistryUsername = "",
    ) -> str:
        """Say what publish-main (--staging: publish-staging) would do; never cached."""
        commit = require_commit_sha(commit)
        self.settings()
        base = await read_base_version(self.source)
        cli = self.release_cli(CliSecrets(github_token, registry_token, registry_username))
        if staging:
            planned = await cli.run(
                "reserve", "--commit", commit, "--base-version", base, "--dry-run"
            )
            return (
                f"publish-staging would reserve {planned['version']} at {commit} "
                f"(hint {planned['hint']}, registry {planned['registry_hint']}, "
                f"{planned['store']})."
            )
        promotion = await cli.run(
            "promote",
            "--commit",
            commit,
            "--base-version",
            base,
            "--source",
            MONOREPO_DIR,
            "--dry-run",
        )
        return promotion_plan_text(promotion["plan"], base)

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def status(
        self,
        github_token: OptionalGitHubToken = None,
        registry_token: RegistryToken = None,
        registry_username: RegistryUsername = "",
        base_version: Annotated[
            str, Doc("X.Y.Z whose newest staging build to show (default: the highest)")
        ] = "",
        format: Annotated[str, Doc("table (for people), markdown (a job summary) or json")] = (
            "table"
        ),
    ) -> str:
        """What staging and latest name on every app; fails when inconsistent; never cached."""
        report_format = check_format(format)
        if base_version:
            require_base_version(base_version, what="--base-version")
        cli = self.release_cli(CliSecrets(github_token, registry_token, registry_username))
        return await status_report(cli, base_version=base_version, report_format=report_format)

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def rollback(
        self,
        to: Annotated[str, Doc("The version to go back to: X.Y.Z (latest), X.Y.Z-staging.N")],
        github_token: GitHubToken,
        float_tag: Annotated[str, Doc("latest (and GitHub's latest release) or staging")] = (
            "latest"
        ),
        registry_token: RegistryToken = None,
        registry_username: RegistryUsername = "",
        dry_run: Annotated[bool, Doc("Check everything and say what would change")] = False,
        json: Annotated[bool, Doc("Return the command line's JSON document instead")] = False,
    ) -> str:
        """Move latest (or staging) back to a version on every app, all or nothing; never cached."""
        require_rollback_target(to, float_tag)
        cli = self.release_cli(CliSecrets(github_token, registry_token, registry_username))
        return await rollback_report(
            cli, version=to, float_tag=float_tag, dry_run=dry_run, as_json=json
        )

    # ------------------------------------------------------------- monorepo edits

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    def lockfile(self) -> dagger.File:
        """Regenerate package-lock.json under Linux (node:24, linux/amd64, clean); never cached."""
        return regenerate_lockfile(self.source, run_id=new_run_id())

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def bump_version(
        self,
        version: Annotated[str, Doc("The new version, X.Y.Z")],
    ) -> dagger.Directory:
        """Set the version everywhere (lockfile in place); changed files only; never cached."""
        require_base_version(version, what="--version")
        _, changes = await bump_version(self.source, version)
        return changes

    # ------------------------------------------------------------- rehearsal

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    @as_function_error
    async def rehearse(
        self,
        monorepo: Annotated[
            dagger.Directory | None,
            Doc("The monorepo to rehearse with (default: the sample shipped with this module)"),
        ] = None,
        platforms: Platforms = None,
        push_with: Annotated[
            str,
            Doc(
                "How images reach the rehearsal registry: engine (Container.publish to the "
                "service) or skopeo (OCI tarball, skopeo copy in a container bound to it)"
            ),
        ] = "engine",
    ) -> str:
        """Rehearse staging then main on a registry and Git remote in the session; never cached."""
        check_push_with(push_with)
        module_source = dag.current_module().source()
        source = monorepo if monorepo is not None else module_source.directory(SAMPLE_DIR)
        plan = self.build_plan(
            platforms, source=source, repository=self.repository or DEFAULT_REPOSITORY
        )
        return await run_rehearsal(
            plan,
            module_source=module_source,
            progress=StderrProgress(),
            push_with=push_with,
        )


__all__ = ["MetaboostCi"]
