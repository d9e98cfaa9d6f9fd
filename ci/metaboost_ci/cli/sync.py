"""``metaboost-ci sync``: fast-forward staging from develop, or main from staging.

``devtools.gitsync.sync_branches`` does the work; this adds the prompt about
untracked files, the audit hook and the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import anyio

from ..core.progress import StderrProgress
from ..devtools.audit import find_npm
from ..devtools.gitsync import npm_audit_hook, sync_branches
from .commands import EXIT_CODES_HELP, add_command, json_option
from .output import Outcome, fields

SYNC_HELP = f"""\
environment: none of its own; git and npm read theirs (credentials, proxies).

{EXIT_CODES_HELP}"""


def cmd_sync(args: argparse.Namespace) -> Outcome:
    progress = StderrProgress()

    def confirm(paths: list[str]) -> bool:
        return True if args.yes else ask_untracked(paths)

    audit = None if args.skip_audit else npm_audit_hook(find_npm())

    async def go() -> Outcome:
        result = await sync_branches(
            Path(args.source),
            args.from_branch,
            args.to_branch,
            remote=args.remote,
            confirm_untracked=confirm,
            audit=audit,
            progress=progress,
        )
        audit_note = result.audit or ("skipped (--skip-audit)" if args.skip_audit else "n/a")
        text = fields(
            [
                ("sync", f"{result.source} -> {result.target} on {result.remote}"),
                ("status", result.status),
                (f"{result.target} before", result.target_before[:12]),
                (f"{result.target} after", result.target_after[:12]),
                ("commits moved", len(result.commits)),
                (
                    "local fast-forwards",
                    ", ".join(f"{b} -> {s[:12]}" for b, s in result.local_fast_forwards.items())
                    or "none",
                ),
                ("audit", audit_note),
                ("back on", result.returned_to),
            ]
        )
        if result.commits:
            text += "\n\n" + "\n".join(result.commits)
        # The same words as the text: an empty string would not say it was skipped.
        return Outcome(text, {**result.as_dict(), "audit": audit_note})

    return anyio.run(go)


def ask_untracked(paths: list[str]) -> bool:
    """Ask whether to go ahead despite untracked files; no terminal means no."""
    if not sys.stdin.isatty():
        return False
    print("Untracked files:", *(f"  {p}" for p in paths[:20]), sep="\n", file=sys.stderr)
    print("Go ahead anyway? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def register(sub: Any) -> None:
    """Add ``sync`` to the ``metaboost-ci`` parser."""
    text = "Fast-forward staging from develop, or main from staging, with every safeguard."
    s = add_command(sub, "sync", text, SYNC_HELP)
    s.add_argument("from_branch", metavar="FROM", help="develop or staging.")
    s.add_argument("to_branch", metavar="TO", help="staging or main.")
    s.add_argument("--source", default=".", help="Your clone (default: .).")
    s.add_argument("--remote", default="origin", help="The remote (default: origin).")
    s.add_argument("--yes", "-y", action="store_true", help="Go ahead despite untracked files.")
    s.add_argument("--skip-audit", action="store_true", help="Skip the npm audit gate.")
    json_option(s)
    s.set_defaults(handler=cmd_sync)
