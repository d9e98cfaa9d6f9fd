"""``metaboost-ci bump-version``: its options and its table; ``devtools.bump`` does the work."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import anyio

from ..devtools.bump import (
    EDIT,
    MODULE_ENV,
    REGENERATE,
    SKIP,
    BumpOptions,
    BumpResult,
    bump_version,
)
from ..devtools.monorepo import LOCKFILE
from .commands import EXIT_CODES_HELP, add_command, json_option
from .output import Outcome, table

BUMP_HELP = f"""\
environment:
  {MODULE_ENV}  default of --module (--regenerate-lockfile only)
  PATH                 where dagger (--regenerate-lockfile) and npm (the audit
                       gate) are found; git and npm read their own settings

{EXIT_CODES_HELP} A downgrade or an
existing Git tag X.Y.Z is bad input (2) unless --allow-downgrade."""


def cmd_bump_version(args: argparse.Namespace) -> Outcome:
    options = BumpOptions(
        source=Path(args.source),
        version=args.version,
        remote=args.remote,
        push=not args.no_push,
        lockfile=SKIP if args.skip_lockfile else REGENERATE if args.regenerate_lockfile else EDIT,
        audit=not args.skip_audit,
        allow_downgrade=args.allow_downgrade,
        module=args.module,
    )
    return bump_outcome(anyio.run(bump_version, options))


def bump_outcome(result: BumpResult) -> Outcome:
    plan, version = result.plan, result.version
    rows: list[list[str]] = []
    for path in result.committed or sorted(plan.changed):
        if path == plan.changelog_path:
            what = "created from " + (plan.changelog_template or "Metaboost's format")
        elif path == LOCKFILE:
            what = f"versions -> {version}" if plan.lockfile == "edited" else "regenerated"
        else:
            what = f"version -> {version}"
        rows.append([path, what])
    lines = [
        f"Version: {result.previous or '(none)'} -> {version}",
        table(["file", "change"], rows) if rows else "Nothing to change: already at this version.",
        f"Changelog: {plan.changelog_path}"
        + (" (created: fill it in)" if plan.changelog_created else " (exists)"),
        f"Lockfile: {result.lockfile_note}",
        f"Audit: {result.audit_note}",
    ]
    if result.commit:
        lines.append(f"Commit: {result.commit[:12]} chore: bump version to {version}")
        lines.append(f"Pushed: {result.branch}" if result.pushed else "Pushed: no (--no-push)")
    return Outcome("\n".join(lines), result.to_dict())


# -------------------------------------------------------------- registration


def register(sub: Any) -> None:
    """Add ``bump-version`` to the ``metaboost-ci`` parser."""
    text = (
        "Set X.Y.Z in every package.json and in the lockfile's root and workspace entries, "
        "create the changelog, commit and push."
    )
    p = add_command(sub, "bump-version", text, BUMP_HELP)
    p.add_argument("version", nargs="?", help="X.Y.Z (asked for when left out, on a terminal).")
    p.add_argument("--source", default=".", help="The monorepo root (default: .).")
    p.add_argument("--remote", default="origin", help="Push here (default: origin).")
    p.add_argument("--no-push", action="store_true", help="Commit, but do not push.")
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--regenerate-lockfile",
        action="store_true",
        help=f"Regenerate {LOCKFILE} through the Dagger lockfile function (needs the Dagger "
        "CLI and a container runtime) instead of editing its versions in place.",
    )
    how.add_argument("--skip-lockfile", action="store_true", help=f"Leave {LOCKFILE} alone.")
    p.add_argument("--skip-audit", action="store_true", help="Skip the npm audit gate.")
    p.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="Accept a version lower than the current one, or one whose Git tag exists.",
    )
    p.add_argument(
        "--module",
        help=f"The metaboost-ci Dagger module for --regenerate-lockfile (path or Git address; "
        f"default: ${MODULE_ENV}, else this checkout).",
    )
    json_option(p)
    p.set_defaults(handler=cmd_bump_version)
