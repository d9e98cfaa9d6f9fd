"""``metaboost-ci``: entry point, global options, error handling, output.

Commands live in small modules that each expose ``register(subparsers)``;
every command handler returns an ``Outcome`` that is printed for people (a
table) or, with ``--json``, as one JSON document on stdout (a failure too:
``{"error": {...}}``). Progress goes to stderr. Exit codes: 0 success, 1 a
remote refused or a check failed, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ..core.errors import InputError, MetaboostCiError
from ..core.redact import redact
from . import bump, commands, operate, release, sample, sync
from .output import Outcome


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is an ``InputError`` like any other bad input:
    one sentence, the fix, exit 2, and a JSON document with ``--json``.
    (Subcommand parsers inherit the class.)"""

    def error(self, message: str) -> NoReturn:
        raise InputError(
            f"{self.prog}: {message}.",
            fix=f"See '{self.prog} --help' for the options it takes.",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="metaboost-ci",
        description="Metaboost's release pipeline: reserve, verify, release, promote, status,\n"
        "rollback, sync.\n"
        "Global options go before or after the command; `metaboost-ci COMMAND --help`\n"
        "shows what a command takes.",
        epilog=commands.ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_ShowVersion)
    commands.add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in (
        release.register,
        operate.register,
        sample.register,
        bump.register,
        sync.register,
    ):
        register(sub)
    return parser


class _ShowVersion(argparse.Action):
    """``--version``, looked up only when asked: importlib.metadata and the lookup
    cost every other command ~70 ms of start-up."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: object) -> None:
        super().__init__(
            option_strings, dest=argparse.SUPPRESS, nargs=0, help="show the version and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        print(f"metaboost-ci {_own_version()}")
        parser.exit()


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("metaboost-ci")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def error_document(exc: MetaboostCiError) -> dict[str, Any]:
    """The ``--json`` form of a failure (the texts are redacted when the error is built)."""
    return {
        "error": {
            "kind": type(exc).__name__,
            "message": exc.message.split("\n", 1)[0],
            "problems": list(getattr(exc, "problems", [])),
            "fix": exc.fix,
            "exit_code": exc.exit_code,
        }
    }


def report_failure(exc: MetaboostCiError, *, as_json: bool) -> int:
    """Say what failed on stderr (and as a JSON document on stdout with ``--json``)."""
    print(f"error: {exc.describe()}", file=sys.stderr)
    if as_json:
        # A machine reading stdout gets one document on failure too.
        print(redact(json.dumps(error_document(exc), indent=2, sort_keys=True)))
    return exc.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in arguments
    try:
        args = parser.parse_args(arguments)
        as_json = bool(args.json)
        outcome: Outcome = args.handler(args)
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    except MetaboostCiError as exc:
        return report_failure(exc, as_json=as_json)
    except OSError as exc:
        # A local file or process problem (a results file that cannot be
        # written, a tool that cannot be started): one sentence, not a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        failure = MetaboostCiError(
            f"{where}{exc.strerror or exc}.",
            fix="Check that path (it exists, is writable, is not a directory), then run again.",
        )
        return report_failure(failure, as_json=as_json)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if as_json:
        print(redact(json.dumps(outcome.data, indent=2, sort_keys=True)))
    else:
        print(redact(outcome.text))
    return outcome.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
