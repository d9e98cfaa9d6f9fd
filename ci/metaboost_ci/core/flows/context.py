"""``ReleaseContext``: what every flow needs, and running per-app work concurrently.

The flows never build clients themselves: the command line and the Dagger
module build one context (``core.settings.open_release_context``) and pass it
in, so both entry points run exactly the same operations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, cast, runtime_checkable

from ..apps import DEFAULT_APPS, image_name
from ..errors import InputError, MetaboostCiError, RemoteError
from ..github import GitHubClient
from ..progress import Progress, SilentProgress
from ..registry import RegistryClient
from ..tags import TagStore
from ..together import gather, settle

T = TypeVar("T")

# Per-app requests run together; the cap only matters for long custom app lists.
MAX_CONCURRENT_APPS = 16


@dataclass(kw_only=True)
class ReleaseContext:
    """The registry, the tag store, the optional GitHub API, the apps, and progress."""

    registry: RegistryClient
    repository: str
    tags: TagStore
    registry_host: str = ""
    apps: tuple[str, ...] = DEFAULT_APPS
    # None with a Git remote as the tag store: there is no release API then.
    github: GitHubClient | None = None
    progress: Progress = field(default_factory=SilentProgress)

    def __post_init__(self) -> None:
        if not self.registry_host:
            self.registry_host = self.registry.host

    def image_name(self, app: str) -> str:
        """The repository path of ``app`` on the registry, e.g. ``owner/repo/api``."""
        return image_name(self.repository, app)

    def image(self, app: str) -> str:
        """``host/owner/repo/app``, as people pull it."""
        return f"{self.registry_host}/{self.image_name(app)}"

    def image_ref(self, app: str, tag: str) -> str:
        return f"{self.image(app)}:{tag}"


async def authorize(ctx: ReleaseContext, *, write: bool) -> None:
    """One token for every app's repository, before per-app work starts.

    Without it, six concurrent first requests each meet a 401 and each
    exchange a token, then again for the push scope: up to 18 extra requests.
    """
    names = [ctx.image_name(app) for app in ctx.apps]
    if write:
        await ctx.registry.authorize(push=names)
    else:
        await ctx.registry.authorize(pull=names)


@runtime_checkable
class CommitLookup(Protocol):
    """A tag store that can also say whether a commit exists (both real stores can)."""

    async def commit_exists(self, sha: str) -> bool: ...


async def require_commit_exists(ctx: ReleaseContext, commit: str) -> None:
    """For dry runs: a real create would refuse a missing commit; a plan must too."""
    if isinstance(ctx.tags, CommitLookup) and not await ctx.tags.commit_exists(commit):
        raise InputError(
            f"{ctx.tags.description} has no commit {commit}.",
            fix="Push the commit first, or check the SHA.",
        )


async def per_app(
    apps: Iterable[str],
    work: Callable[[str], Awaitable[T]],
    *,
    progress: Progress | None = None,
) -> dict[str, T]:
    """Run ``work(app)`` for every app concurrently; results in the apps' order.

    Every task runs to its end even when another fails (a half-sent write is
    worse than a finished one); afterwards the first failure, in app order, is
    raised and the others are reported as progress lines.
    """
    names = list(apps)

    def step(app: str) -> Callable[[], Awaitable[T]]:
        return lambda: work(app)

    results, failures = await settle(
        [step(app) for app in names], MetaboostCiError, limit=MAX_CONCURRENT_APPS
    )
    if failures:
        errors = {names[i]: exc for i, exc in failures.items()}
        failed = list(errors)
        first = errors[failed[0]]
        if progress is not None:
            _report_the_others(first, failed[0], {app: errors[app] for app in failed[1:]}, progress)
        raise first
    return {app: cast(T, result) for app, result in zip(names, results, strict=True)}


def _report_the_others(
    first: MetaboostCiError, first_app: str, others: dict[str, MetaboostCiError], progress: Progress
) -> None:
    """One line for the apps that failed as ``first`` did (it is raised, said once, with
    its fix); a line each for other failures, their fix left out when it is ``first``'s."""

    def same(exc: MetaboostCiError) -> bool:
        status = getattr(exc, "status", None)
        return (type(exc), exc.fix, status) == (
            type(first),
            first.fix,
            getattr(first, "status", None),
        )

    alike = [app for app, exc in others.items() if same(exc)]
    if alike:
        progress.step(f"{', '.join(alike)}: the same failure as {first_app} (below)")
    for app, exc in others.items():
        if app not in alike:
            progress.step(f"{app}: {exc.message if exc.fix == first.fix else exc}")


async def write_per_app(
    ctx: ReleaseContext,
    apps: Iterable[str],
    work: Callable[[str], Awaitable[T]],
    *,
    what: str,
    fix: str,
) -> dict[str, T]:
    """``per_app`` for writes: a failure says which apps were written and which not.

    A registry cannot write several tags atomically, so a failure part-way
    leaves some apps written; the error names them (``what`` on each) so
    people know the state, and ``fix`` says how to converge (a re-run).
    """
    names = list(apps)
    written: list[str] = []

    async def one(app: str) -> T:
        result = await work(app)
        written.append(app)
        return result

    try:
        return await per_app(names, one, progress=ctx.progress)
    except MetaboostCiError as exc:
        done = [app for app in names if app in written]
        missing = [app for app in names if app not in written]
        raise RemoteError(
            f"{what} was written for {', '.join(done) or 'no app'} but not for "
            f"{', '.join(missing)}: {exc.message}",
            fix=fix,
        ) from exc


async def run_together(*tasks: Callable[[], Awaitable[None]]) -> None:
    """Run independent reads at once; the first failure (in order) is raised as itself.

    Like ``per_app``: an anyio task group would wrap it in an ``ExceptionGroup``,
    and callers (and people) want the error, not a group of one.
    """
    await gather(tasks, MetaboostCiError)
