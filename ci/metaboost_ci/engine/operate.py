"""``plan``, ``status`` and ``rollback`` as the module shows them: the command line's own.

Both run ``metaboost-ci status`` / ``rollback`` in the tools container
(``engine.tools``), like every release operation, so ``dagger call status``
and the command line report the same thing from the same code.
"""

from __future__ import annotations

from typing import Any, cast

from ..core.errors import CheckFailed, InputError
from .tools import Cli

STATUS_FORMATS = ("table", "markdown", "json")
# metaboost-ci status: 0 consistent, 1 inconsistent (the report is printed either way).
CONSISTENT, INCONSISTENT = 0, 1


def check_format(value: str) -> str:
    if value not in STATUS_FORMATS:
        raise InputError(
            f"--format {value!r} is not one of {', '.join(STATUS_FORMATS)}.",
            fix="Pass --format table (for people), markdown (a job summary) or json.",
        )
    return value


async def status_report(cli: Cli, *, base_version: str, report_format: str) -> str:
    """The status report; raised as a failed check (the report its message) when inconsistent.

    A failed ``dagger call`` is what a scheduled job alerts on, as it does on
    the command line's exit code 1; the whole report stays in the message.
    """
    args = ["status", *(["--base-version", base_version] if base_version else [])]
    if report_format == "markdown":
        args.append("--markdown")
    code, out = await cli.output(
        *args, as_json=report_format == "json", ok=(CONSISTENT, INCONSISTENT)
    )
    if code == INCONSISTENT:
        raise CheckFailed(out.rstrip("\n"))
    return out


async def rollback_report(
    cli: Cli, *, version: str, float_tag: str, dry_run: bool, as_json: bool
) -> str:
    """``metaboost-ci rollback``'s report (per app, from which version to which)."""
    args = ["rollback", "--to", version, "--float-tag", float_tag]
    _, out = await cli.output(*args, *(["--dry-run"] if dry_run else []), as_json=as_json)
    return out


def promotion_plan_text(plan: dict[str, Any], base: str) -> str:
    """``promote --dry-run``'s plan, as ``plan`` prints it."""
    lines = [
        f"publish-main would promote {plan['source']} to {base} and latest "
        f"(Git tag {base}: {plan['git_tag']}):"
    ]
    for app, app_plan in cast(dict[str, dict[str, Any]], plan["apps"]).items():
        action = "already there" if app_plan["base"] == "exists" else "copy"
        lines.append(f"  {app}: {app_plan['image']}@{app_plan['digest']} ({action})")
    lines += [f"  passed over: {reason}" for reason in plan["passed_over"]]
    return "\n".join(lines)
