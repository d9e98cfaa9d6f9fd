"""The ``MetaboostCi`` module object: the functions ``dagger call`` runs.

Every function is thin: it checks its input, builds the pieces and calls
``publish`` (the order of a release), ``rehearse`` or the ``core.flows``
operations the ``metaboost-ci`` command line calls too. The user-facing
module description is the package docstring (``engine/__init__.py``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type

from ..core.apps import choose_known, validate_app_names
from ..core.errors import InputError
from ..core.flows import ReleaseContext, plan_promotion, reserve, verify
from ..core.progress import StderrProgress
from ..core.settings import DEFAULT_GITHUB_API, open_release_context
from ..core.tags import require_commit_sha
from ..core.versions import require_base_version
from .build import build_app, parse_platforms
from .bump import bump_version, read_base_version
from .credentials import SecretArgs, settings_for
from .lockfile import regenerate_lockfile
from .ops import InProcessOps
from .pipeline import BuildPlan, staging_steps
from .publish import EnginePusher, StagingRequest, publish_main, publish_staging
from .rehearse import DEFAULT_REPOSITORY, check_push_with, new_run_id, run_rehearsal
from .smoke import SmokeOptions, smoke_test
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
    Doc("Registry token (default: the GitHub token), e.g. env://GHCR_REGISTRY_TOKEN"),
]
RegistryUsername = Annotated[str, Doc("Registry username (GHCR ignores it; default: metaboost-ci)")]


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
    registry: Annotated[str, Doc("Registry host the images go to")] = "ghcr.io"
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
        return BuildPlan(
            source=source or self.source,
            apps=self.app_names(),
            platforms=parse_platforms(platforms),
            repository=self.repository if repository is None else repository,
            smoke=SmokeOptions(stay_seconds=stay_seconds, run_id=new_run_id()),
        )

    @asynccontextmanager
    async def release_context(
        self,
        secrets: SecretArgs,
        apps: tuple[str, ...] | None = None,
        *,
        need_github_token: bool = True,
    ) -> AsyncGenerator[ReleaseContext]:
        """The release core's context for this module's registry and repository.

        Says on stderr which credentials are used (never their values).
        """
        settings = await settings_for(
            registry=self.registry,
            repository=self.require_repository(),
            apps=apps or self.app_names(),
            github_api_url=self.github_api_url,
            secrets=secrets,
        )
        progress = StderrProgress()
        progress.step(settings.describe_credentials())
        async with open_release_context(
            settings, progress=progress, need_github_token=need_github_token
        ) as ctx:
            yield ctx

    async def version_or_package(self, version: str) -> str:
        return version or await read_base_version(self.source)

    # ------------------------------------------------------------- checks

    @function
    async def validate(
        self,
        steps: Annotated[
            list[str] | None,
            Doc(f"Steps to run, in order (default: all): {', '.join(STEP_NAMES)}"),
        ] = None,
    ) -> str:
        """Run the monorepo's checks in node:24: install, audit, builds, lint, types."""
        passed = await run_validate(self.source, choose_steps(steps))
        return "\n".join(passed)

    @function
    async def build(
        self,
        app: Annotated[str, Doc("The app to build, e.g. api")],
        platforms: Platforms = None,
        version: Annotated[str, Doc("Version label (default: package.json's)")] = "",
        commit: Annotated[str, Doc("Revision label (default: none)")] = "",
    ) -> dagger.Container:
        """Build one app's image (the first platform's) from the repository root."""
        choose_known([app], self.app_names(), what="app")
        plan = self.build_plan(platforms)
        meta = plan.meta(commit=commit, version=await self.version_or_package(version))
        return build_app(self.source, app, plan.platforms[0], meta)

    @function
    async def build_all(
        self,
        platforms: Platforms = None,
        version: Annotated[str, Doc("Version label (default: package.json's)")] = "",
        commit: Annotated[str, Doc("Revision label (default: none)")] = "",
    ) -> list[dagger.Container]:
        """Build every app for every platform concurrently, in one session."""
        plan = self.build_plan(platforms)
        images = await plan.build_all(commit=commit, version=await self.version_or_package(version))
        return [variant for image in images for variant in image.variants]

    @function
    async def smoke(
        self,
        stay_seconds: Annotated[int, Doc("How long each app must stay up")] = 2,
    ) -> str:
        """Build every app; check each starts, stays up and keeps the runtime-config contract."""
        if stay_seconds < 0:
            raise InputError(
                f"--stay-seconds {stay_seconds} is negative.", fix="Give 0 or more seconds."
            )
        plan = self.build_plan(None, stay_seconds=stay_seconds)
        images = await plan.build_all(commit="", version=await self.version_or_package(""))
        return "\n".join(await smoke_test(images, plan.smoke))

    # ------------------------------------------------------------- publish
    # Side effects and reads of remote state are never served from Dagger's
    # function cache. `cache=` works at runtime; the SDK's type stubs omit it,
    # hence the pyright ignores.

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
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
    ) -> str:
        """Publish staging: validate, reserve, build, smoke, push, verify, move staging, release."""
        commit = require_commit_sha(commit)
        repository = self.require_repository()
        plan = self.build_plan(platforms)
        base = await read_base_version(self.source)
        secrets = SecretArgs(github_token, registry_token, registry_username)
        async with self.release_context(secrets, plan.apps) as ctx:
            summary = await publish_staging(
                StagingRequest(
                    commit=commit, base=base, override=version_override or None, dry_run=dry_run
                ),
                steps=staging_steps(plan, commit=commit),
                pusher=EnginePusher(ctx.registry_host, repository, auth=secrets.push_auth()),
                ops=InProcessOps(ctx, self.source),
                progress=ctx.progress,
            )
        return summary.markdown()

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    async def publish_main(
        self,
        commit: Commit,
        github_token: GitHubToken,
        registry_token: RegistryToken = None,
        registry_username: RegistryUsername = "",
        dry_run: Annotated[bool, Doc("Decide and report; write nothing")] = False,
    ) -> str:
        """Publish main: promote the staging build of the commit to X.Y.Z and latest, no rebuild."""
        commit = require_commit_sha(commit)
        self.require_repository()
        base = await read_base_version(self.source)
        secrets = SecretArgs(github_token, registry_token, registry_username)
        async with self.release_context(secrets) as ctx:
            summary = await publish_main(
                commit=commit,
                base=base,
                dry_run=dry_run,
                ops=InProcessOps(ctx, self.source),
                progress=ctx.progress,
            )
        return summary.markdown()

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
    async def verify(
        self,
        version: Annotated[str, Doc("The immutable tag, e.g. 1.2.0-staging.3 or 1.2.0")],
        float_tag: Annotated[str, Doc("Also check this floating tag names the same digest")] = "",
        registry_token: RegistryToken = None,
        registry_username: RegistryUsername = "",
        github_token: OptionalGitHubToken = None,
    ) -> str:
        """Check every app has the version tag (and the floating tag, on the same digest)."""
        self.require_repository()
        secrets = SecretArgs(github_token, registry_token, registry_username)
        async with self.release_context(secrets, need_github_token=False) as ctx:
            result = await verify(ctx, version=version, float_tag=float_tag or None)
            tags = " and ".join(t for t in (version, float_tag) if t)
            rows = [f"{ctx.image(app)}@{digest}" for app, digest in result.digests.items()]
        return "\n".join([f"Verified {tags} on {len(rows)} apps:", *rows])

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
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
        """Say what publish-main (or, with --staging, publish-staging) would do; write nothing."""
        commit = require_commit_sha(commit)
        self.require_repository()
        base = await read_base_version(self.source)
        secrets = SecretArgs(github_token, registry_token, registry_username)
        async with self.release_context(secrets, need_github_token=False) as ctx:
            if staging:
                planned = await reserve(ctx, commit=commit, base=base, dry_run=True)
                return (
                    f"publish-staging would reserve {planned.version} at {commit} "
                    f"(hint {planned.hint}, registry {planned.registry_hint}, {planned.store})."
                )
            promotion = await plan_promotion(ctx, commit=commit, base=base)
        lines = [
            f"publish-main would promote {promotion.source} to {base} and latest "
            f"(Git tag {base}: {promotion.git_tag}):"
        ]
        for app, app_plan in promotion.apps.items():
            action = "already there" if app_plan.base_done else "copy"
            lines.append(f"  {app}: {app_plan.image}@{app_plan.digest} ({action})")
        lines += [f"  passed over: {reason}" for reason in promotion.passed_over]
        return "\n".join(lines)

    # ------------------------------------------------------------- monorepo edits

    @function
    def lockfile(self) -> dagger.File:
        """Regenerate package-lock.json under Linux (node:24, linux/amd64, clean node_modules)."""
        return regenerate_lockfile(self.source)

    @function
    async def bump_version(
        self,
        version: Annotated[str, Doc("The new version, X.Y.Z")],
    ) -> dagger.Directory:
        """Set the version everywhere; returns only the changed files, for -o ."""
        require_base_version(version, what="--version")
        _, changes = await bump_version(self.source, version)
        return changes

    # ------------------------------------------------------------- rehearsal

    @function(cache="never")  # pyright: ignore[reportCallIssue, reportUntypedFunctionDecorator]
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
        """Rehearse staging then main against a registry and Git remote inside the session."""
        check_push_with(push_with)
        module_source = dag.current_module().source()
        source = monorepo if monorepo is not None else module_source.directory(SAMPLE_DIR)
        plan = self.build_plan(
            platforms, source=source, repository=self.repository or DEFAULT_REPOSITORY
        )
        return await run_rehearsal(
            plan, module_source=module_source, progress=StderrProgress(), push_with=push_with
        )


__all__ = ["MetaboostCi"]
