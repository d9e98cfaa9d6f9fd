"""Fast-forward branch syncs: ``develop -> staging`` and ``staging -> main``.

Every safeguard of the old ``sync-*.sh`` scripts, in an order where every
refusal comes before the first change: a clean tree (untracked files only
with confirmation), both local branches and both remote branches present,
each local branch no further than a fast-forward behind its remote, the
target an ancestor of the source. The checks' fetch moves no ref (not even
``refs/remotes/*``), so a refusal leaves the clone exactly as it was. Only
then are the remote-tracking and local branches fast-forwarded, the target
merged ``--ff-only`` and pushed (a push the remote refuses is undone locally),
and the remote checked. The original branch is checked out again whatever
happens.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio

from ..core.errors import CheckFailed, ConfigError, InputError, MetaboostCiError
from ..core.gitrun import GitResult, run_git
from ..core.progress import Progress, SilentProgress
from .audit import audit_gate, read_allowlist

# The only syncs there are: main advances from staging alone, so what reaches
# production has been published and checked on staging first.
ALLOWED_SYNCS = (("develop", "staging"), ("staging", "main"))


class GitCommandError(MetaboostCiError):
    """A git command failed; carries its arguments and stderr."""

    def __init__(
        self, args: Sequence[str], returncode: int, stderr: str, *, fix: str | None = None
    ):
        self.args_ = tuple(args)
        self.returncode = returncode
        self.stderr = stderr
        # The last lines say why (a hook's message comes before git's summary).
        detail = [line.strip() for line in stderr.strip().splitlines()[-8:] if line.strip()]
        super().__init__(
            f"`git {' '.join(args)}` failed (exit {returncode})"
            + (": " + " / ".join(detail) if detail else "."),
            fix=fix,
        )


class Git:
    """git in one work tree, without a shell, in the C locale, never prompting."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    async def run(self, *args: str, check: bool = True, fix: str | None = None) -> GitResult:
        out = await run_git(*args, cwd=self.repo)
        if check and out.returncode != 0:
            raise GitCommandError(args, out.returncode, out.stderr, fix=fix)
        return out

    async def out(self, *args: str) -> str:
        return (await self.run(*args)).stdout.strip()

    async def rev(self, ref: str) -> str | None:
        """The commit ``ref`` names, or None when there is no such ref."""
        result = await self.run(
            "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False
        )
        return result.stdout.strip() if result.returncode == 0 else None

    async def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        result = await self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        if result.returncode not in (0, 1):
            raise GitCommandError(("merge-base", "--is-ancestor"), result.returncode, result.stderr)
        return result.returncode == 0

    async def commits(self, revision_range: str) -> list[str]:
        """``<short sha> <subject>`` of each commit in ``a..b``, newest first."""
        text = await self.out("log", "--format=%h %s", revision_range)
        return text.splitlines() if text else []

    async def current_branch(self) -> str | None:
        result = await self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    async def require_work_tree(self) -> None:
        inside = self.repo.is_dir() and await self.run(
            "rev-parse", "--is-inside-work-tree", check=False
        )
        if not inside or inside.returncode != 0 or inside.stdout.strip() != "true":
            raise ConfigError(
                f"{self.repo} is not inside a Git work tree.",
                fix="Run from your clone of the monorepo.",
            )

    async def require_remote(self, remote: str) -> None:
        result = await self.run("remote", "get-url", remote, check=False)
        if result.returncode != 0:
            raise ConfigError(
                f"This clone has no Git remote named {remote!r}.",
                fix="Pass --remote NAME (see `git remote -v`).",
            )

    async def status(self, *paths: str) -> tuple[list[str], list[str]]:
        """(changed tracked paths, untracked paths) of the work tree, or of ``paths`` in it."""
        args = ("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
        text = (await self.run(*args)).stdout
        changed: list[str] = []
        untracked: list[str] = []
        entries = iter(text.split("\0"))
        for entry in entries:
            if not entry:
                continue
            code, path = entry[:2], entry[3:]
            if code == "??":
                untracked.append(path)
            elif code != "!!":
                changed.append(path)
                if code[0] in "RC":
                    next(entries, None)  # a rename's source path follows
        return changed, untracked

    async def remote_heads(self, remote: str, branches: Sequence[str]) -> dict[str, str]:
        """The remote's commit for each of ``branches`` that exists there."""
        refs = [f"refs/heads/{b}" for b in branches]
        text = await self.out("ls-remote", "--heads", remote, *refs)
        heads: dict[str, str] = {}
        for line in text.splitlines():
            sha, _, ref = line.partition("\t")
            heads[ref.removeprefix("refs/heads/")] = sha
        return heads

    async def fetch(self, remote: str, branches: Sequence[str]) -> None:
        specs = [f"+refs/heads/{b}:refs/remotes/{remote}/{b}" for b in branches]
        await self.run("fetch", "--quiet", "--no-tags", remote, *specs)

    async def fetch_tips(self, remote: str, branches: Sequence[str]) -> dict[str, str]:
        """Fetch ``branches``' commits and return their tips, leaving every ref as it was.

        The checks of a sync need the remote's commits, but a refused sync must
        not even move ``refs/remotes/*``: so the fetch lands in a scratch ref
        namespace (``--refmap=`` stops git's opportunistic remote-tracking
        update), which is read and deleted again.
        """
        scratch = {b: f"refs/metaboost-ci/sync/{b}" for b in branches}
        specs = [f"+refs/heads/{b}:{ref}" for b, ref in scratch.items()]
        try:
            await self.run("fetch", "--quiet", "--no-tags", "--refmap=", remote, *specs)
            return {b: await self.out("rev-parse", "--verify", ref) for b, ref in scratch.items()}
        finally:
            with anyio.CancelScope(shield=True):
                for ref in scratch.values():
                    await self.run("update-ref", "-d", ref, check=False)


@dataclass(frozen=True)
class SyncResult:
    source: str
    target: str
    remote: str
    status: str  # "fast-forwarded" or "already in sync"
    source_commit: str
    target_before: str
    target_after: str
    commits: list[str] = field(default_factory=lambda: [])
    local_fast_forwards: dict[str, str] = field(default_factory=lambda: {})
    audit: str = ""
    returned_to: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# (git, source commit) -> a one-line note; raises CheckFailed to stop the sync.
AuditHook = Callable[[Git, str], Awaitable[str]]


def check_pair(source: str, target: str) -> None:
    """Refuse any sync but develop -> staging and staging -> main."""
    if (source, target) == ("develop", "main"):
        raise InputError(
            "main is never synced from develop: main only advances from staging, "
            "so that only builds published and checked on staging reach production.",
            fix="Run `metaboost-ci sync develop staging`, wait for Publish (staging) "
            "to succeed, then `metaboost-ci sync staging main`.",
        )
    if (source, target) not in ALLOWED_SYNCS:
        raise InputError(
            f"There is no sync from {source} to {target}.",
            fix="Use `sync develop staging` or `sync staging main`.",
        )


def npm_audit_hook(npm: str | None) -> AuditHook:
    """An audit gate over the source commit's package.json and package-lock.json."""

    async def hook(git: Git, commit: str) -> str:
        with tempfile.TemporaryDirectory(prefix="metaboost-ci-audit-") as tmp:
            package = await _show(git, commit, "package.json")
            for name in ("package.json", "package-lock.json", ".npmrc"):
                text = package if name == "package.json" else await _show(git, commit, name)
                if text is not None:
                    (Path(tmp) / name).write_text(text, encoding="utf-8")
            result = await audit_gate(Path(tmp), read_allowlist(package), npm=npm)
        return result.note

    return hook


async def _show(git: Git, commit: str, path: str) -> str | None:
    result = await git.run("show", f"{commit}:{path}", check=False)
    return result.stdout if result.returncode == 0 else None


async def sync_branches(
    repo: Path,
    source: str,
    target: str,
    *,
    remote: str = "origin",
    confirm_untracked: Callable[[list[str]], bool],
    audit: AuditHook | None = None,
    progress: Progress | None = None,
) -> SyncResult:
    """Fast-forward ``target`` to ``source`` on ``remote``; see the module doc."""
    progress = progress or SilentProgress()
    check_pair(source, target)
    git = Git(repo)
    await git.require_work_tree()
    await git.require_remote(remote)
    original_branch = await git.current_branch()
    original_head = await git.out("rev-parse", "HEAD")

    changed, untracked = await git.status()
    if changed:
        raise CheckFailed(
            "The working tree has uncommitted changes; a sync checks out other branches.",
            changed[:20],
            fix="Commit or stash them, then run the sync again.",
        )
    if untracked:
        progress.step(f"warning: {len(untracked)} untracked file(s): {', '.join(untracked[:5])}")
        if not confirm_untracked(untracked):
            raise CheckFailed(
                "There are untracked files and going ahead was not confirmed.",
                untracked[:20],
                fix="Remove or ignore them, or pass --yes to go ahead anyway.",
            )

    missing_local = [b for b in (source, target) if await git.rev(f"refs/heads/{b}") is None]
    if missing_local:
        raise CheckFailed(
            "Local branch(es) missing: " + ", ".join(missing_local) + ".",
            fix=" ; ".join(f"git branch --track {b} {remote}/{b}" for b in missing_local),
        )
    progress.step(f"checking {source} and {target} on {remote}")
    heads = await git.remote_heads(remote, (source, target))
    missing_remote = [b for b in (source, target) if b not in heads]
    if missing_remote:
        raise CheckFailed(
            f"Branch(es) missing on {remote}: " + ", ".join(missing_remote) + ".",
            fix="Push the branch first, or pass --remote NAME if it lives elsewhere.",
        )
    progress.step(f"fetching {source} and {target} from {remote}")
    tips = await git.fetch_tips(remote, (source, target))

    behind: dict[str, tuple[str, str]] = {}  # branch -> (local, remote)
    for branch in (source, target):
        local = await git.out("rev-parse", f"refs/heads/{branch}")
        upstream = tips[branch]
        if local == upstream:
            continue
        if await git.is_ancestor(local, upstream):
            behind[branch] = (local, upstream)
            continue
        ahead = await git.commits(f"{upstream}..{local}")
        raise CheckFailed(
            f"Local {branch} has commits that {remote}/{branch} does not have"
            + ("" if await git.is_ancestor(upstream, local) else " (the two have diverged)")
            + ":",
            ahead,
            fix=f"Push or drop them (`git switch {branch} && git status`), then sync again.",
        )

    src = tips[source]
    tgt = tips[target]
    if not await git.is_ancestor(tgt, src):
        raise CheckFailed(
            f"{remote}/{target} has commits that {remote}/{source} does not have, "
            f"so {target} cannot be fast-forwarded to {source}:",
            await git.commits(f"{src}..{tgt}"),
            fix=f"Bring those commits into {source} first (merge or cherry-pick on {source}, "
            f"push it), or revert them on {target}; {target} only ever fast-forwards.",
        )
    moving = await git.commits(f"{tgt}..{src}")
    audit_note = ""
    if moving and audit is not None:
        progress.step(f"npm audit gate on {source} ({src[:12]})")
        audit_note = await audit(git, src)

    # Every check passed: from here on, things change.
    plan = _Plan(source, target, remote, src, tgt, moving, behind, audit_note)
    returned_to = original_branch or original_head
    try:
        result = await _apply(git, plan, original_branch, returned_to, progress)
    except BaseException:
        with anyio.CancelScope(shield=True):
            try:
                await _return_to(git, original_branch, original_head, progress)
            except MetaboostCiError as exc:  # keep the first error; say this one too
                progress.step(f"warning: could not return to {returned_to}: {exc}")
        raise
    await _return_to(git, original_branch, original_head, progress)
    return result


@dataclass(frozen=True)
class _Plan:
    source: str
    target: str
    remote: str
    src: str  # the remote source commit
    tgt: str  # the remote target commit before the sync
    moving: list[str]
    behind: dict[str, tuple[str, str]]  # local branches to fast-forward: (local, remote)
    audit: str


async def _apply(
    git: Git, plan: _Plan, original_branch: str | None, returned_to: str, progress: Progress
) -> SyncResult:
    source, target, remote = plan.source, plan.target, plan.remote
    # What the checks' fetch left out: the remote-tracking branches.
    for branch, tip in ((source, plan.src), (target, plan.tgt)):
        await git.run("update-ref", f"refs/remotes/{remote}/{branch}", tip)
    for branch, (local, upstream) in plan.behind.items():
        progress.step(f"fast-forwarding local {branch} to {remote}/{branch}")
        if branch == original_branch:
            await git.run("merge", "--ff-only", "--quiet", upstream)
        else:
            await git.run("update-ref", f"refs/heads/{branch}", upstream, local)
    forwarded = {b: u for b, (_, u) in plan.behind.items()}
    if not plan.moving:
        progress.step(f"{target} already equals {source}: nothing to push")
        return SyncResult(
            source, target, remote, "already in sync", plan.src, plan.tgt, plan.tgt,
            local_fast_forwards=forwarded, returned_to=returned_to,
        )  # fmt: skip
    await git.run("checkout", "--quiet", target)
    target_before = await git.out("rev-parse", "HEAD")
    progress.step(f"merging {source} into {target} (--ff-only): {len(plan.moving)} commit(s)")
    await git.run("merge", "--ff-only", "--quiet", f"refs/heads/{source}")
    progress.step(f"pushing {target} to {remote}")
    try:
        await git.run(
            "push", "--quiet", remote, f"refs/heads/{target}:refs/heads/{target}",
            fix=f"{remote} refused the push (git's message above says why); local {target} "
            f"was put back where it was. Fix the cause, then sync again.",
        )  # fmt: skip
    except GitCommandError:
        # The remote said no: undo the merge, so the refusal leaves nothing changed.
        # --keep: the tree was clean, so this only moves the branch and its files back.
        await git.run("reset", "--quiet", "--keep", target_before)
        raise
    await git.fetch(remote, (source, target))
    after = {b: await git.rev(f"refs/remotes/{remote}/{b}") for b in (source, target)}
    if after[source] != after[target] or after[target] != plan.src:
        raise CheckFailed(
            f"After the push, {remote}/{target} does not equal {remote}/{source}.",
            [f"{remote}/{b}: {sha}" for b, sha in after.items()],
            fix="Someone pushed meanwhile; fetch, look, and run the sync again.",
        )
    return SyncResult(
        source, target, remote, "fast-forwarded", plan.src, plan.tgt, plan.src,
        commits=plan.moving, local_fast_forwards=forwarded, audit=plan.audit,
        returned_to=returned_to,
    )  # fmt: skip


async def _return_to(git: Git, branch: str | None, head: str, progress: Progress) -> None:
    """Check the original branch (or detached commit) out again."""
    if branch is not None:
        if await git.current_branch() != branch:
            await git.run("checkout", "--quiet", branch)
    elif await git.current_branch() is not None or await git.out("rev-parse", "HEAD") != head:
        await git.run("checkout", "--quiet", "--detach", head)
    progress.step(f"back on {branch or head[:12]}")
