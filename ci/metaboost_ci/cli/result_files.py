"""Where a release command writes its results beyond stdout: ``$GITHUB_OUTPUT``,
``$GITHUB_STEP_SUMMARY`` and ``--kustomize``; all checked writable before the flow runs.
"""

from __future__ import annotations

import argparse
import errno
import os
from pathlib import Path

from ..core.errors import ConfigError, MetaboostCiError
from ..core.flows import PublishSummary


def env_file(variable: str) -> Path:
    """The file GitHub Actions names in ``variable`` ($GITHUB_OUTPUT, ...), or an input error."""
    path = os.environ.get(variable)
    if not path:
        raise ConfigError(
            f"{variable} is not set, so there is nowhere to write.",
            fix=f"Run inside GitHub Actions, or set {variable} to a file path.",
        )
    return Path(path)


def append_to_env_file(variable: str, text: str) -> None:
    path = env_file(variable)
    try:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise unwritable(f"${variable}", path, exc, exit_code=1) from None


def unwritable(what: str, path: Path, exc: OSError, *, exit_code: int = 2) -> MetaboostCiError:
    """The error for a results file that cannot be written, naming it and why.

    Exit 2 when found before the flow ran (nothing was written anywhere);
    exit 1 after it, since the registry or GitHub may have been written by then.
    """
    kind = ConfigError if exit_code == 2 else MetaboostCiError
    return kind(
        f"{what} names {path}, which cannot be written ({exc.strerror or exc}).",
        fix=f"Point {what} at a regular file you may write, in an existing directory.",
    )


def check_output_destinations(args: argparse.Namespace) -> None:
    """Every file the command will write its results to must be writable.

    Checked before the flow runs: a missing $GITHUB_OUTPUT found only after a
    tag was reserved or images were promoted would fail a run whose writes
    already happened (and exit 2, "bad input", after a side effect). An
    existing file is opened for appending (nothing is written: its content
    stays), which is what refuses files like /proc/version that exist, and
    even look writable, but take no appends.
    """
    targets: list[tuple[Path, str]] = []
    if getattr(args, "github_output", False):
        targets.append((env_file("GITHUB_OUTPUT"), "$GITHUB_OUTPUT"))
    if getattr(args, "github_step_summary", False):
        targets.append((env_file("GITHUB_STEP_SUMMARY"), "$GITHUB_STEP_SUMMARY"))
    if getattr(args, "kustomize", None):
        targets.append((Path(args.kustomize), "--kustomize"))
    for path, what in targets:
        if not path.parent.is_dir() or path.is_dir():
            raise ConfigError(
                f"{what} names {path}, which cannot be written (its directory is missing, "
                "or it is a directory).",
                fix=f"Point {what} at a file in an existing directory.",
            )
        try:
            if path.exists():
                path.open("a", encoding="utf-8").close()
            elif not os.access(path.parent, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        except OSError as exc:
            raise unwritable(what, path, exc) from None


def write_outputs(args: argparse.Namespace, summary: PublishSummary) -> None:
    if getattr(args, "github_output", False):
        append_to_env_file("GITHUB_OUTPUT", summary.github_output())
    if getattr(args, "github_step_summary", False):
        append_to_env_file("GITHUB_STEP_SUMMARY", summary.markdown())
    if getattr(args, "kustomize", None):
        path = Path(args.kustomize)
        try:
            path.write_text(summary.kustomize_images(), encoding="utf-8")
        except OSError as exc:
            raise unwritable("--kustomize", path, exc, exit_code=1) from None
