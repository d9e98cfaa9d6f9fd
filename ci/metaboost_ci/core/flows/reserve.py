"""Reserve ``BASE-staging.N`` by creating its Git tag atomically.

The existing tags (the store's, plus the registry's when readable) only give a
starting hint; correctness comes from the atomic create, which answers "exists"
when somebody else won, and we try N+1. Reading the registry too keeps us off
an N whose images exist although its Git tag was deleted: pushing there would
overwrite an immutable image tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from ..errors import AuthenticationRequired, CheckFailed, PermissionDenied, RemoteError
from ..tags import TagCreate, require_commit_sha
from ..versions import (
    STAGING,
    StagingVersion,
    require_base_version,
    staging_numbers,
    staging_tag,
    validate_override,
)
from .context import ReleaseContext, require_commit_exists
from .discover import discover

# Far more than any real contention; a bound so a broken store cannot loop forever.
DEFAULT_MAX_ATTEMPTS = 200


@dataclass(frozen=True, kw_only=True)
class Reservation:
    """A reserved (or planned) version; built by keyword, ten fields being too many to order."""

    version: str
    base: str
    n: int
    commit: str
    # created: we made the tag; exists: an override already at this commit;
    # planned: a dry run, nothing was written.
    action: str
    # The first N tried, and where the hint came from.
    hint: int
    registry_hint: str
    store: str
    # Create calls made (1 when uncontended); N found taken on the way.
    attempts: int
    taken: tuple[int, ...] = ()
    override: bool = False
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["taken"] = list(self.taken)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reservation:
        """The reservation ``to_dict`` wrote (``reserve --json``, as the Dagger layer reads it)."""
        return cls(
            version=str(data["version"]),
            base=str(data["base"]),
            n=int(data["n"]),
            commit=str(data["commit"]),
            action=str(data["action"]),
            hint=int(data["hint"]),
            registry_hint=str(data["registry_hint"]),
            store=str(data["store"]),
            attempts=int(data["attempts"]),
            taken=tuple(int(n) for n in data.get("taken") or ()),
            override=bool(data.get("override", False)),
            dry_run=bool(data.get("dry_run", False)),
        )


async def _hint(ctx: ReleaseContext, base: str, *, use_registry: bool) -> tuple[int, str]:
    """One past the highest N in the store and (when readable) the registry."""
    store_tags = await ctx.tags.list_tags(f"{base}-{STAGING}.")
    numbers = staging_numbers(store_tags, base)
    source = "not read"
    if use_registry:
        try:
            discovery = await discover(ctx, base=base)
        except (AuthenticationRequired, PermissionDenied) as exc:
            # The hint is an optimisation; the atomic create stays correct without it.
            source = f"unreadable ({exc.status})"
            ctx.progress.step(f"Registry tags not readable for the hint: {exc.message}")
        else:
            source = "read"
            if discovery.highest_n is not None:
                numbers.append(discovery.highest_n)
    return (max(numbers) + 1 if numbers else 0), source


async def reserve(
    ctx: ReleaseContext,
    *,
    commit: str,
    base: str,
    override: str | None = None,
    dry_run: bool = False,
    allow_other_base: bool = False,
    registry_hint: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Reservation:
    """Reserve the next ``BASE-staging.N`` (or exactly ``override``) at ``commit``."""
    commit = require_commit_sha(commit)
    require_base_version(base)
    if dry_run:
        await require_commit_exists(ctx, commit)
    if override is not None:
        return await _reserve_override(
            ctx,
            commit=commit,
            base=base,
            override=override,
            dry_run=dry_run,
            allow_other_base=allow_other_base,
        )
    n, registry_source = await _hint(ctx, base, use_registry=registry_hint)
    hint = n
    # What every outcome below shares.
    reservation = partial(
        Reservation,
        base=base,
        commit=commit,
        hint=hint,
        registry_hint=registry_source,
        store=ctx.tags.description,
    )
    if dry_run:
        ctx.progress.step(f"Dry run: would create Git tag {staging_tag(base, n)} at {commit[:12]}.")
        return reservation(
            version=staging_tag(base, n), n=n, action="planned", attempts=0, dry_run=True
        )
    taken: list[int] = []
    for attempt in range(1, max_attempts + 1):
        tag = staging_tag(base, n)
        if await ctx.tags.create_tag(tag, commit) is TagCreate.CREATED:
            ctx.progress.step(f"Reserved {tag} at {commit[:12]} ({ctx.tags.description}).")
            return reservation(
                version=tag, n=n, action="created", attempts=attempt, taken=tuple(taken)
            )
        taken.append(n)
        n += 1
    raise RemoteError(
        f"Could not reserve a {base}-staging.N tag in {max_attempts} attempts "
        f"(tried {hint} to {n - 1}, all taken).",
        fix="Something is creating tags in a loop; check the repository's tags, then run again.",
    )


async def _reserve_override(
    ctx: ReleaseContext,
    *,
    commit: str,
    base: str,
    override: str,
    dry_run: bool,
    allow_other_base: bool,
) -> Reservation:
    wanted = validate_override(override, base, allow_other_base=allow_other_base)
    tag = str(wanted)
    store = ctx.tags.description
    if dry_run:
        existing = await ctx.tags.tag_commit(tag)
        _check_same_commit(tag, existing, commit)
        action = "exists" if existing else "planned"
        return _override_reservation(wanted, commit, store, action=action, attempts=0, dry_run=True)
    if await ctx.tags.create_tag(tag, commit) is TagCreate.CREATED:
        ctx.progress.step(f"Reserved {tag} (override) at {commit[:12]}.")
        return _override_reservation(wanted, commit, store, action="created", attempts=1)
    existing = await ctx.tags.tag_commit(tag)
    _check_same_commit(tag, existing, commit)
    ctx.progress.step(f"Git tag {tag} already points at {commit[:12]}: reservation re-used.")
    return _override_reservation(wanted, commit, store, action="exists", attempts=1)


def _override_reservation(
    wanted: StagingVersion,
    commit: str,
    store: str,
    *,
    action: str,
    attempts: int,
    dry_run: bool = False,
) -> Reservation:
    """An override's reservation: its N is the hint, and the registry is not read."""
    return Reservation(
        version=str(wanted),
        base=wanted.base,
        n=wanted.n,
        commit=commit,
        action=action,
        hint=wanted.n,
        registry_hint="not read",
        store=store,
        attempts=attempts,
        override=True,
        dry_run=dry_run,
    )


def _check_same_commit(tag: str, existing: str | None, commit: str) -> None:
    if existing is not None and existing != commit:
        raise CheckFailed(
            f"Git tag {tag} already exists at commit {existing}, not at {commit}.",
            fix="Pick an unused N for --version-override (tags are never moved).",
        )
