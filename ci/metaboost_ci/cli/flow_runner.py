"""From a release command's options to a flow's ``Outcome``: ``run_flow``.

It turns options into ``Settings`` (credentials from the environment), opens
one ``ReleaseContext`` within the command's deadline, calls one flow and adds
which credentials were used; the input checks here come before any request.
Every release command runs through it (``cli.release``, ``cli.operate``,
``cli.sample``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from ..core.apps import parse_apps
from ..core.deadline import command_deadline, within_deadline
from ..core.errors import InputError
from ..core.flows import ReleaseContext
from ..core.progress import StderrProgress
from ..core.settings import Settings, open_release_context, settings_from_env
from ..core.versions import (
    is_base_version,
    parse_staging_version,
    read_base_version,
    require_base_version,
)
from .output import Outcome

Work = Callable[[ReleaseContext, Settings], Awaitable[Outcome]]


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = settings_from_env(
        repository=args.repository,
        registry_url=args.registry,
        apps=parse_apps(args.apps),
        git_remote=args.git_remote,
        github_api_url=args.github_api_url,
    )
    source = source_dir(args)
    if settings.git_remote and source is not None:
        # The Git tag store pushes tags from a checkout that has the commit:
        # the monorepo named by --source, rather than wherever we were started.
        settings = dataclasses.replace(settings, local_repo=source)
    return settings


def run_flow(
    args: argparse.Namespace,
    work: Work,
    *,
    needs_tag_store: bool = True,
    writes_registry: bool = False,
) -> Outcome:
    """Check settings, open a context, run ``work``; input errors come before any request."""
    settings = settings_from_args(args)
    if writes_registry:
        settings.require_write_credentials()
    deadline = command_deadline(os.environ)
    progress = StderrProgress()
    progress.step(settings.describe_credentials())

    async def go() -> Outcome:
        async with open_release_context(
            settings, progress=progress, need_github_token=needs_tag_store
        ) as ctx:
            return await work(ctx, settings)

    outcome = anyio.run(within_deadline, deadline, f"metaboost-ci {args.command}", go)
    data = {**outcome.data, "credentials": settings.credential_sources()}
    return Outcome(outcome.text, data, outcome.exit_code)


def resolve_base(args: argparse.Namespace) -> str:
    """``--base-version``, else the package.json of ``--source``, else of the current directory."""
    if args.base_version:
        return require_base_version(args.base_version, what="--base-version")
    return read_base_version(Path(args.source) if args.source else Path.cwd())


def source_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.source) if getattr(args, "source", None) else None


def require_version_tag(text: str, flag: str = "--version") -> str:
    """An immutable version tag, X.Y.Z or X.Y.Z-staging.N, before any request.

    Anything else would only come back from the registry as "does not exist"
    (exit 1, as if the publish were broken) instead of as the typo it is.
    """
    if is_base_version(text) or parse_staging_version(text) is not None:
        return text
    raise InputError(
        f"{flag} {text!r} is neither X.Y.Z nor X.Y.Z-staging.N.",
        fix=f"Give the immutable version tag, e.g. {flag} 1.2.0-staging.3 or {flag} 1.2.0.",
    )
