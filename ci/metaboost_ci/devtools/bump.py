"""bump-version, replacing Metaboost's ``scripts/publish/bump-version.sh``.

It checks everything (version, no downgrade, no existing release tag, Git
state, that the branch can be pushed, the Dagger CLI when asked to regenerate,
the audit gate) before it writes anything. The lockfile's versions are edited
in place (no engine, no network); ``--regenerate-lockfile`` has the Dagger
``lockfile`` function write it afresh instead, and if that fails after the
edits, the edited files are restored. The command (``cli.bump``) parses
its options and prints the ``BumpResult``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import semver

from ..core.errors import CheckFailed, ConfigError, InputError, MetaboostCiError, VersionError
from ..core.progress import Progress, StderrProgress
from ..core.versions import require_base_version
from .audit import audit_gate, find_npm, read_allowlist
from .gitsync import Git, GitCommandError
from .monorepo import (
    LOCKFILE,
    ROOT_PACKAGE,
    BumpPlan,
    LocalTree,
    plan_bump,
    root_package,
    write_plan,
)

MODULE_ENV = "METABOOST_CI_MODULE"
DAGGER_INSTALL = "https://docs.dagger.io/install"
# How the lockfile is treated: its versions edited in place (the default),
# regenerated through Dagger, or left alone.
EDIT, REGENERATE, SKIP = "edit", "regenerate", "skip"


@dataclass
class BumpOptions:
    source: Path
    version: str | None
    remote: str = "origin"
    push: bool = True
    lockfile: str = EDIT
    audit: bool = True
    allow_downgrade: bool = False
    module: str | None = None
    progress: Progress = field(default_factory=StderrProgress)


@dataclass(frozen=True)
class BumpResult:
    """What a bump did: the files it committed (none when already at ``version``)."""

    plan: BumpPlan
    version: str
    previous: str
    committed: list[str]
    commit: str | None
    pushed: bool
    audit_note: str
    lockfile_note: str
    branch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "previous_version": self.previous,
            "files": self.committed,
            "changelog": self.plan.changelog_path,
            "changelog_created": self.plan.changelog_created,
            "changelog_template": self.plan.changelog_template or None,
            "lockfile": self.lockfile_note,
            "audit": self.audit_note,
            "commit": self.commit,
            "pushed": self.pushed,
            "branch": self.branch,
        }


async def bump_version(options: BumpOptions) -> BumpResult:
    """Validate, plan, write (regenerate the lockfile), commit, push; in that order."""
    progress = options.progress
    source = options.source.resolve()
    git = Git(source)
    await git.require_work_tree()
    toplevel = await anyio.Path(await git.out("rev-parse", "--show-toplevel")).resolve()
    if Path(toplevel) != source:
        raise ConfigError(
            f"{source} is not the root of its Git work tree ({toplevel}).",
            fix="Run from the monorepo root, or pass --source with the root.",
        )
    root_text = await LocalTree(source).read(ROOT_PACKAGE)
    current = _current_version(root_text)
    version = options.version if options.version is not None else ask_version(current)
    require_base_version(version, what="version")

    branch = await git.current_branch()
    if options.push:
        if branch is None:
            raise InputError(
                "HEAD is detached, so there is no branch to push.",
                fix="Switch to the branch to bump (usually develop), or pass --no-push.",
            )
        await git.require_remote(options.remote)
    await _require_new_version(git, options, version, current)
    if options.push and branch is not None:
        await _require_pushable(git, options.remote, branch)
    regenerate = options.lockfile == REGENERATE
    dagger, module = _lockfile_tool(options) if regenerate else (None, None)

    plan = await plan_bump(LocalTree(source), version, lockfile=options.lockfile == EDIT)
    paths: list[str] = sorted(set(plan.changed) | ({LOCKFILE} if regenerate else set()))
    changed, _ = await git.status()
    in_the_way = sorted(set(changed) & set(paths))
    if in_the_way:
        raise CheckFailed(
            "Files bump-version rewrites have uncommitted changes:",
            in_the_way,
            fix="Commit or stash them first, so the bump commit holds only the bump.",
        )
    if options.audit:
        npm = find_npm()
        progress.step("npm audit gate" if npm else "npm not found: audit gate skipped")
        audit_note = (await audit_gate(source, read_allowlist(root_text), npm=npm)).note
    else:
        audit_note = "skipped (--skip-audit)"

    # Everything is checked: from here on, files change.
    originals = {p: _read_bytes(source / p) for p in paths}
    write_plan(source, plan)
    progress.step(f"set version {version} in {len(plan.packages)} package.json file(s)")
    if dagger is not None and module is not None:
        await _regenerate_lockfile(dagger, module, source, originals, progress)
        lockfile_note = "regenerated through Dagger (lockfile, --regenerate-lockfile)"
    else:
        lockfile_note = _lockfile_note(plan, options.lockfile)
        progress.step(f"{LOCKFILE}: {lockfile_note}")

    to_commit = await _changed_paths(git, paths)
    if not to_commit:
        return BumpResult(
            plan=plan,
            version=version,
            previous=current,
            committed=[],
            commit=None,
            pushed=False,
            audit_note=audit_note,
            lockfile_note=lockfile_note,
        )
    message = f"chore: bump version to {version}"
    try:
        await git.run("add", "--", *to_commit)
        await git.run("commit", "--quiet", "-m", message, "--", *to_commit)
    except GitCommandError as exc:
        raise MetaboostCiError(
            f"The files were edited but the commit failed: {exc.message}",
            fix=f"Commit them yourself (git commit -m '{message}' -- {' '.join(to_commit)}), "
            f"or undo: {_undo_hint(originals)}",
        ) from None
    commit = await git.out("rev-parse", "HEAD")
    progress.step(f"committed {commit[:12]} {message}")
    pushed = False
    if options.push and branch is not None:
        ref = f"refs/heads/{branch}"
        await git.run(
            "push", "--quiet", options.remote, f"{ref}:{ref}",
            fix=f"The commit {commit[:12]} is made locally; push it with "
            f"`git push {options.remote} {branch}` once the problem is fixed.",
        )  # fmt: skip
        pushed = True
        progress.step(f"pushed {branch} to {options.remote}")
    return BumpResult(
        plan=plan,
        version=version,
        previous=current,
        committed=to_commit,
        commit=commit,
        pushed=pushed,
        audit_note=audit_note,
        lockfile_note=lockfile_note,
        branch=branch,
    )


async def _require_new_version(git: Git, options: BumpOptions, version: str, current: str) -> None:
    """Refuse a downgrade, or a version already released (its Git tag exists).

    Release tags are made by CI on the remote, so when pushing the remote is
    asked too; with --no-push, the local tags only.
    """
    if options.allow_downgrade:
        return
    if semver.Version.is_valid(current) and semver.Version.parse(version) < semver.Version.parse(
        current
    ):
        raise VersionError(
            f"{version} is lower than the current version {current}: that is a downgrade.",
            fix="Give a higher version, or pass --allow-downgrade if you mean it.",
        )
    ref = f"refs/tags/{version}"
    where = None
    if await git.rev(ref) is not None:
        where = "in this clone"
    elif options.push and (await git.out("ls-remote", "--tags", options.remote, ref)):
        where = f"on {options.remote}"
    if where is not None:
        raise VersionError(
            f"The Git tag {version} already exists {where}: {version} was released already.",
            fix="Give the next version, or pass --allow-downgrade if you mean it.",
        )


async def _require_pushable(git: Git, remote: str, branch: str) -> None:
    """Refuse now what would refuse the push later: the remote branch has moved on.

    ``push --dry-run`` asks the remote without changing it or any local ref; a
    branch behind its remote would otherwise get a bump commit that cannot be pushed.
    """
    ref = f"refs/heads/{branch}"
    result = await git.run("push", "--dry-run", "--quiet", remote, f"{ref}:{ref}", check=False)
    if result.returncode != 0:
        raise CheckFailed(
            f"{branch} cannot be pushed to {remote} as it is, so the bump commit could not be "
            "either (nothing was changed):",
            [line for line in result.stderr.strip().splitlines() if line.strip()][-4:],
            fix=f"Bring {branch} up to date (`git pull --ff-only {remote} {branch}`) and run "
            "bump-version again, or pass --no-push.",
        )


def ask_version(current: str) -> str:
    """Ask for the version on the terminal; refuse when there is none."""
    if not sys.stdin.isatty():
        raise InputError(
            "No version was given and stdin is not a terminal, so it cannot be asked for.",
            fix="Pass it: metaboost-ci bump-version X.Y.Z",
        )
    print(f"Current version: {current or '(none)'}", file=sys.stderr)
    print("New version (X.Y.Z): ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip()


def _current_version(root_text: str | None) -> str:
    version: Any = root_package(root_text).get("version")
    return version if isinstance(version, str) else ""


def _lockfile_tool(options: BumpOptions) -> tuple[str, str]:
    """The dagger executable and the module to call; refuse before any change."""
    dagger = shutil.which("dagger")
    if dagger is None:
        raise InputError(
            "The Dagger CLI (dagger) is not on PATH; --regenerate-lockfile regenerates "
            f"{LOCKFILE} through the Dagger lockfile function.",
            fix=f"Install the Dagger CLI ({DAGGER_INSTALL}) and a container runtime, "
            "or leave out --regenerate-lockfile to edit its versions in place (no engine).",
        )
    return dagger, _module_ref(options.module)


def _module_ref(explicit: str | None) -> str:
    """--module, else $METABOOST_CI_MODULE, else the checkout this package runs from."""
    if explicit:
        return explicit
    if os.environ.get(MODULE_ENV):
        return os.environ[MODULE_ENV]
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "dagger.json").is_file():
        return str(checkout)
    raise InputError(
        "Cannot tell which Dagger module to call for the lockfile.",
        fix=f"Pass --module (a path or a Git address such as "
        f"github.com/OWNER/metaboost-ci@vX.Y.Z) or set {MODULE_ENV}.",
    )


def lockfile_command(dagger: str, module: str) -> list[str]:
    """``dagger call`` that writes the regenerated lockfile; run it in the monorepo root.

    ``--source`` is the module object's (constructor) argument, so it comes
    before the function; ``export`` is the core API of the File returned.
    Both paths are relative to the working directory, which Dagger's export
    must not escape.
    """
    return [
        dagger, "call", "-m", module, "--source=.",
        "lockfile",
        "export", f"--path={LOCKFILE}",
    ]  # fmt: skip


async def _regenerate_lockfile(
    dagger: str, module: str, source: Path, originals: dict[str, bytes | None], progress: Progress
) -> None:
    progress.step(f"regenerating {LOCKFILE} through Dagger ({module})")
    # stdout is captured (the result is the exported path); stderr is Dagger's
    # progress, left on the terminal.
    result = await anyio.run_process(
        lockfile_command(dagger, module), cwd=source, check=False, stderr=None
    )
    if result.returncode == 0:
        return
    _restore(source, originals)
    raise MetaboostCiError(
        f"Regenerating {LOCKFILE} through Dagger failed (exit {result.returncode}); "
        f"the version edits were undone ({', '.join(sorted(originals))} restored).",
        fix="Look at Dagger's output above (is a container runtime running?), then run "
        "bump-version again, or leave out --regenerate-lockfile.",
    )


def _lockfile_note(plan: BumpPlan, how: str) -> str:
    if how == SKIP:
        return (
            "NOT changed (--skip-lockfile): run `dagger call --source=. lockfile "
            f"export --path={LOCKFILE}` and commit {LOCKFILE} before publishing"
        )
    if plan.lockfile == "absent":
        return f"none: the monorepo has no {LOCKFILE}"
    workspaces = len(plan.packages) - 1
    return (
        f"versions edited in place (the root and {workspaces} workspace entries; "
        "no engine, no network; --regenerate-lockfile to have npm rewrite it)"
    )


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _restore(source: Path, originals: dict[str, bytes | None]) -> None:
    for path, data in originals.items():
        target = source / path
        if data is None:
            target.unlink(missing_ok=True)
            # Directories made for a new file (the changelog's) go too, if empty.
            for parent in target.parents:
                if parent == source or any(parent.iterdir()):
                    break
                parent.rmdir()
        else:
            target.write_bytes(data)


def _undo_hint(originals: dict[str, bytes | None]) -> str:
    tracked = [p for p, data in originals.items() if data is not None]
    created = [p for p, data in originals.items() if data is None]
    parts = [f"git checkout -- {' '.join(tracked)}"] if tracked else []
    parts += [f"rm {' '.join(created)}"] if created else []
    return " && ".join(parts)


async def _changed_paths(git: Git, paths: list[str]) -> list[str]:
    changed, untracked = await git.status(*paths)
    return sorted(changed + untracked)
