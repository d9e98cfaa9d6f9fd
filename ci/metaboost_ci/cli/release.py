"""Release commands: reserve, discover, verify, move-floating, release, promote, summary.

Each handler checks its options, then runs one flow through ``run_flow``
(``cli.flow_runner``) and returns an ``Outcome``; results for Actions go to
the files of ``cli.result_files``. Progress goes to stderr; the result to stdout.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..core.flows import (
    ImageRow,
    PublishSummary,
    ReleaseContext,
    discover,
    move_floating,
    promote,
    read_release_notes,
    release,
    reserve,
    verify,
)
from ..core.flows.floating import require_floating_tag
from ..core.flows.release import SKIPPED_NO_API, base_of_tag
from ..core.flows.verify import require_image_tag
from ..core.settings import Settings
from ..core.tags import require_commit_sha
from . import commands
from .flow_runner import require_version_tag, resolve_base, run_flow, source_dir
from .output import Outcome, table
from .result_files import append_to_env_file, check_output_destinations, write_outputs

FORMATS = ("markdown", "github-output", "kustomize")


# ----------------------------------------------------------------- tables


def digest_table(rows: tuple[ImageRow, ...], revisions: dict[str, list[str]] | None = None) -> str:
    """One row per app; the image names, which differ only by the app, said once below.

    (Each row's full image name made the table some 200 columns wide.)
    """
    headers = ["app", "tags", "digest"]
    cells = [[r.app, ", ".join(r.tags), r.digest] for r in rows]
    if revisions is not None:
        headers.append("revision")
        for row, cell in zip(rows, cells, strict=True):
            cell.append(_revisions(revisions[row.app]))
    text = table(headers, cells)
    if rows:
        text += f"\nImages: {_image_pattern(rows)}"
    return text


def _image_pattern(rows: tuple[ImageRow, ...]) -> str:
    """``host/owner/repo/<app>`` when every image is named so, else every name."""
    prefixes = {r.image.removesuffix(f"/{r.app}") for r in rows}
    if len(prefixes) == 1 and all(r.image.endswith(f"/{r.app}") for r in rows):
        return f"{prefixes.pop()}/<app>"
    return ", ".join(r.image for r in rows)


# ----------------------------------------------------------------- commands


def cmd_reserve(args: argparse.Namespace) -> Outcome:
    commit = require_commit_sha(args.commit)
    base = resolve_base(args)
    check_output_destinations(args)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        result = await reserve(
            ctx,
            commit=commit,
            base=base,
            override=args.version_override,
            dry_run=args.dry_run,
            allow_other_base=args.allow_other_base,
        )
        if result.dry_run:
            verb = "would reuse" if result.action == "exists" else "would reserve"
            text = f"Dry run: {verb} {result.version} at {commit} (nothing was written)."
        elif result.action == "exists":
            text = f"Reused {result.version}: its Git tag already points at {commit}."
        else:
            text = (
                f"Reserved {result.version} at {commit} "
                f"({result.attempts} create call(s), in {result.store})."
            )
        if args.github_output and not result.dry_run:
            append_to_env_file("GITHUB_OUTPUT", f"version={result.version}\nstaging_n={result.n}\n")
        return Outcome(text, result.to_dict())

    # A dry run only reads: a public repository needs no token for it.
    return run_flow(args, work, needs_tag_store=not args.dry_run)


def cmd_discover(args: argparse.Namespace) -> Outcome:
    base = resolve_base(args)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        found = await discover(ctx, base=base)
        rows = [
            (name, "yes" if app.exists else "no (first publish)", _numbers(app.staging))
            for name, app in found.apps.items()
        ]
        text = table(["app", "exists", f"{base}-staging.N"], rows)
        text += f"\nNext N by the registry: {found.next_n}."
        return Outcome(text, found.to_dict())

    return run_flow(args, work, needs_tag_store=False)


def _numbers(values: tuple[int, ...]) -> str:
    return ", ".join(map(str, values)) or "-"


def cmd_verify(args: argparse.Namespace) -> Outcome:
    require_version_tag(args.version)
    if args.float_tag is not None:
        require_image_tag(args.float_tag)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        result = await verify(
            ctx, version=args.version, float_tag=args.float_tag, revisions=args.revisions
        )
        tags = (args.version, args.float_tag) if args.float_tag else (args.version,)
        rows = tuple(ImageRow(a, ctx.image(a), tags, d) for a, d in result.digests.items())
        head = f"Verified {' and '.join(tags)} on {len(rows)} apps.\n"
        return Outcome(head + digest_table(rows, result.revisions), result.to_dict())

    return run_flow(args, work, needs_tag_store=False)


def _revisions(values: list[str]) -> str:
    """One cell: each runnable image's revision once, "(none)" for an unlabelled image."""
    return ", ".join(dict.fromkeys(value or "(none)" for value in values)) or "-"


def cmd_move_floating(args: argparse.Namespace) -> Outcome:
    require_version_tag(args.version)
    require_floating_tag(args.float_tag)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        result = await move_floating(
            ctx, version=args.version, float_tag=args.float_tag, dry_run=args.dry_run
        )
        if result.dry_run:
            text = (
                f"Dry run: would move {args.float_tag} to {args.version} on "
                f"{len(result.moved)} app(s) (nothing was written)."
            )
        else:
            text = (
                f"Moved {args.float_tag} to {args.version}: {len(result.moved)} app(s) moved, "
                f"{len(result.unchanged)} already there."
            )
        return Outcome(text, result.to_dict())

    return run_flow(args, work, needs_tag_store=False, writes_registry=not args.dry_run)


def cmd_release(args: argparse.Namespace) -> Outcome:
    commit = require_commit_sha(args.commit)
    base = base_of_tag(args.tag)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        notes_data: dict[str, Any] | None = None
        body = ""
        if ctx.github is not None:
            notes = await read_release_notes(
                base, commit=commit, source=source_dir(args), progress=ctx.progress
            )
            body, notes_data = notes.text, notes.to_dict()
        result = await release(
            ctx,
            tag=args.tag,
            commit=commit,
            notes=body,
            prerelease=args.prerelease,
            update_existing=args.update,
            dry_run=args.dry_run,
        )
        text = result.sentence()
        return Outcome(text, {**result.to_dict(), "notes": notes_data})

    return run_flow(args, work)


def cmd_promote(args: argparse.Namespace) -> Outcome:
    commit = require_commit_sha(args.commit)
    base = resolve_base(args)
    check_output_destinations(args)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        notes_text: str | None = None
        if ctx.github is not None:
            notes = await read_release_notes(
                base, commit=commit, source=source_dir(args), progress=ctx.progress
            )
            notes_text = notes.text
        result = await promote(
            ctx,
            commit=commit,
            base=base,
            notes=notes_text,
            dry_run=args.dry_run,
            update_release=args.update_release,
        )
        summary = result.summary()
        targets = f"{base} and latest" if result.latest_is_ours else base
        head = (
            f"Dry run: would promote {result.plan.source} to {targets} (nothing was written)."
            if result.dry_run
            else f"Promoted {result.plan.source} to {targets}."
        )
        lines = [head, digest_table(summary.images)]
        lines.append(f"Git tag {base}: {result.git_tag}.")
        lines.append(result.release.sentence())
        # What else the promotion says (latest left at a newer release).
        lines += [note for note in result.notes if note != result.release.sentence()]
        if not result.dry_run:
            write_outputs(args, summary)
        data = {**result.to_dict(), "summary": summary.to_dict()}
        return Outcome("\n".join(lines), data)

    return run_flow(args, work, needs_tag_store=not args.dry_run, writes_registry=not args.dry_run)


def cmd_summary(args: argparse.Namespace) -> Outcome:
    require_version_tag(args.version)
    if args.float_tag is not None:
        require_image_tag(args.float_tag)
    check_output_destinations(args)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        result = await verify(ctx, version=args.version, float_tag=args.float_tag)
        tags = (args.version, args.float_tag) if args.float_tag else (args.version,)
        rows = tuple(ImageRow(a, ctx.image(a), tags, d) for a, d in result.digests.items())
        notes = () if settings.uses_github_api else (f"GitHub release {SKIPPED_NO_API}.",)
        summary = PublishSummary(args.version, rows, args.float_tag, notes)
        write_outputs(args, summary)
        rendered = {
            "markdown": summary.markdown(),
            "github-output": summary.github_output(),
            "kustomize": summary.kustomize_images(),
        }
        data = {**summary.to_dict(), "rendered": rendered}
        return Outcome(rendered[args.format].rstrip("\n"), data)

    return run_flow(args, work, needs_tag_store=False)


# ----------------------------------------------------------------- parsing


def _base_options(parser: argparse.ArgumentParser, *, writes_tags: bool = True) -> None:
    # Not exclusive: with --git-remote, --source also names the checkout the
    # tags are pushed from, which a given --base-version does not replace.
    parser.add_argument(
        "--base-version", help="X.Y.Z (default: the version in --source's package.json)."
    )
    source_help = (
        "The monorepo checkout: X.Y.Z comes from its package.json, release notes "
        "from its changelog, and with --git-remote the tags are pushed from it (default: "
        "the current directory, and the changelog at --commit)."
        if writes_tags
        else "The monorepo checkout whose package.json gives X.Y.Z (default: the current "
        "directory)."
    )
    parser.add_argument("--source", help=source_help)


def _new(sub: Any, name: str, help_text: str, handler: Callable[..., Outcome]) -> Any:
    return commands.add_release_command(sub, name, help_text, handler)


def register(sub: Any) -> None:
    """Add the release commands to the ``metaboost-ci`` parser."""
    p = _new(sub, "reserve", "Reserve X.Y.Z-staging.N by creating its Git tag.", cmd_reserve)
    p.add_argument("--commit", required=True, help="Full commit SHA to tag.")
    _base_options(p)
    p.add_argument("--version-override", help="Reserve exactly this X.Y.Z-staging.N.")
    p.add_argument(
        "--allow-other-base",
        action="store_true",
        help="Accept an override whose X.Y.Z differs from package.json's.",
    )
    p.add_argument("--dry-run", action="store_true", help="Decide and print; write nothing.")
    p.add_argument("--github-output", action="store_true", help="Append to $GITHUB_OUTPUT.")

    p = _new(sub, "discover", "List each app's X.Y.Z-staging.N on the registry.", cmd_discover)
    _base_options(p, writes_tags=False)

    p = _new(sub, "verify", "Check every app has the version (and floating) tag.", cmd_verify)
    p.add_argument("--version", required=True, help="The immutable tag, e.g. 1.2.0-staging.3.")
    p.add_argument("--float-tag", help="Also check this floating tag names the same digest.")
    p.add_argument(
        "--revisions",
        action="store_true",
        help="Also read each image's org.opencontainers.image.revision label(s).",
    )

    p = _new(
        sub,
        "move-floating",
        "Point a floating tag at a version on every app, after verifying them all.",
        cmd_move_floating,
    )
    p.add_argument("--version", required=True, help="The verified immutable tag.")
    p.add_argument("--float-tag", required=True, help="The floating tag: staging or latest.")
    p.add_argument("--dry-run", action="store_true", help="Decide and print; write nothing.")

    p = _new(sub, "release", "Create the GitHub release of a tag.", cmd_release)
    p.add_argument("--tag", required=True, help="X.Y.Z or X.Y.Z-staging.N.")
    p.add_argument("--commit", required=True, help="The commit the tag names.")
    p.add_argument("--prerelease", action="store_true", help="A staging prerelease.")
    p.add_argument(
        "--source",
        help="Checkout to read docs/development/CHANGELOGS/X.Y.Z.md from (default: that file "
        "at --commit, by git show in the current directory); with --git-remote, also the "
        "checkout the tag is pushed from.",
    )
    p.add_argument("--update", action="store_true", help="Update an existing release's body.")
    p.add_argument("--dry-run", action="store_true", help="Decide and print; write nothing.")

    p = _new(
        sub, "promote", "Promote the staging build of a commit to X.Y.Z and latest.", cmd_promote
    )
    p.add_argument("--commit", required=True, help="The commit on main being promoted.")
    _base_options(p)
    p.add_argument("--dry-run", action="store_true", help="Decide and print; write nothing.")
    p.add_argument(
        "--update-release", action="store_true", help="Update an existing release's body."
    )
    p.add_argument("--github-output", action="store_true", help="Append to $GITHUB_OUTPUT.")
    p.add_argument(
        "--github-step-summary", action="store_true", help="Append to $GITHUB_STEP_SUMMARY."
    )

    p = _new(sub, "summary", "Summarise a published version: Markdown, outputs, pins.", cmd_summary)
    p.add_argument("--version", required=True, help="The published immutable tag.")
    p.add_argument("--float-tag", help="The floating tag published with it.")
    p.add_argument("--format", choices=FORMATS, default="markdown", help="What to print.")
    p.add_argument("--github-output", action="store_true", help="Append to $GITHUB_OUTPUT.")
    p.add_argument(
        "--github-step-summary", action="store_true", help="Append to $GITHUB_STEP_SUMMARY."
    )
    p.add_argument("--kustomize", help="Write the kustomize images: block to this file.")
