"""Operating releases: ``status`` (what is deployed where) and ``rollback``.

Both are release commands: the same global options as ``cli.release``'s,
run through the same ``run_flow`` (``cli.flow_runner``).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.flows import ReleaseContext, read_status, rollback
from ..core.flows.rollback import require_rollback_target
from ..core.flows.status import ReleaseStatus, named_cell
from ..core.settings import Settings
from ..core.versions import require_base_version
from .commands import add_release_command
from .flow_runner import run_flow
from .output import Outcome, table


def cmd_status(args: argparse.Namespace) -> Outcome:
    base = args.base_version and require_base_version(args.base_version, what="--base-version")

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        status = await read_status(ctx, base=base)
        text = status.markdown().rstrip("\n") if args.markdown else status_text(status)
        return Outcome(text, status.to_dict(), exit_code=0 if status.consistent else 1)

    return run_flow(args, work, needs_tag_store=False)


def status_text(status: ReleaseStatus) -> str:
    """The table for people: what each floating tag names, per app."""
    rows: list[list[str]] = []
    for app, s in status.apps.items():
        staging, latest = s.floating["staging"], s.floating["latest"]
        rows.append(
            [
                app,
                named_cell(staging),
                named_cell(latest),
                latest.digest[:19] if latest else "-",
                (latest.revision or "-")[:12] if latest else "-",
                (latest.created or "-") if latest else "-",
            ]
        )
    lines = [table(["app", "staging", "latest", "latest digest", "revision", "created"], rows)]
    lines += status.facts()
    if status.problems:
        lines.append(f"Inconsistent ({len(status.problems)} problem(s)):")
        lines += [f"  - {p}" for p in status.problems]
    else:
        lines.append("Consistent.")
    return "\n".join(lines)


def cmd_rollback(args: argparse.Namespace) -> Outcome:
    require_rollback_target(args.to, args.float_tag)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        result = await rollback(
            ctx, version=args.to, float_tag=args.float_tag, dry_run=args.dry_run
        )
        return Outcome("\n".join(result.lines()), result.to_dict())

    return run_flow(args, work, writes_registry=not args.dry_run)


def register(sub: Any) -> None:
    """Add ``status`` and ``rollback`` to the ``metaboost-ci`` parser."""
    p = add_release_command(
        sub,
        "status",
        "Show what staging and latest name on every app, and what is inconsistent "
        "(exit 1 when something is).",
        cmd_status,
    )
    p.add_argument(
        "--base-version",
        help="X.Y.Z whose newest complete staging build to show (default: the highest "
        "X.Y.Z with a staging build on the registry).",
    )
    p.add_argument("--markdown", action="store_true", help="Print Markdown (a job summary).")

    p = add_release_command(
        sub,
        "rollback",
        "Move latest (or staging) back to an earlier version on every app, all or nothing.",
        cmd_rollback,
    )
    p.add_argument("--to", required=True, help="The version: X.Y.Z (latest) or X.Y.Z-staging.N.")
    p.add_argument(
        "--float-tag",
        default="latest",
        help="latest (default; the GitHub release is made latest too) or staging.",
    )
    p.add_argument("--dry-run", action="store_true", help="Check and print; write nothing.")
    p.add_argument(
        "--source",
        help="With --git-remote: the checkout the rollback record's Git tag is pushed from "
        "(default: the current directory).",
    )
