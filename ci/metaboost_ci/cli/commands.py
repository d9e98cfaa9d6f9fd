"""What every command module shares: the registrar type and the global options."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from ..core.registry.profile import PROFILE

# Each registrar adds its subcommands; a subcommand sets ``handler`` with
# ``set_defaults(handler=...)``, a callable taking the parsed namespace and
# returning an ``Outcome``.
# argparse does not export the type of add_subparsers()' result.
Registrar = Callable[[Any], None]

# The end of every command's --help.
EXIT_CODES_HELP = """\
exit codes: 0 success; 1 a remote refused or a check failed; 2 bad input or
usage (found before anything is written). Progress goes to stderr, results to
stdout (with --json, one JSON document, a failure included)."""

# The end of every release command's --help: what is read from the
# environment (never printed, only named) and what the exit codes mean.
ENVIRONMENT_HELP = (
    f"""\
environment (named in the output, never shown):
  {", else ".join(PROFILE.token_variables):<40}registry token ({PROFILE.host} writes: \
{PROFILE.write_scope})
  {", else ".join(PROFILE.username_variables):<40}registry user name
  GITHUB_TOKEN                            GitHub API token (contents: write)
  GITHUB_REPOSITORY, GITHUB_API_URL       defaults of --repository, --github-api-url
  GITHUB_OUTPUT, GITHUB_STEP_SUMMARY      files --github-output and
                                          --github-step-summary append to
  METABOOST_CI_DEADLINE                   seconds a command may run (default 1800)

"""
    + EXIT_CODES_HELP
)


def json_option(parser: argparse.ArgumentParser) -> None:
    """``--json`` on a command that takes none of the global options."""
    # SUPPRESS: given after the command it overrides, absent it keeps the global value.
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="Print one JSON document."
    )


def add_global_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """The options every command shares.

    Added to the top-level parser with their defaults, and again to each
    subcommand with ``defaults=False`` (no default, so they only override when
    given): ``metaboost-ci reserve --json`` works as well as
    ``metaboost-ci --json reserve``.
    """

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    # On a subcommand they come after its own options, under their own title,
    # so `metaboost-ci verify --help` starts with what verify itself takes.
    group = (
        parser
        if defaults
        else parser.add_argument_group("global options (also accepted before the command)")
    )
    group.add_argument(
        "--registry",
        default=default(PROFILE.url),
        help=f"Registry URL; http:// for local registries (default: {PROFILE.url}).",
    )
    group.add_argument(
        "--repository",
        default=default(os.environ.get("GITHUB_REPOSITORY")),
        help="OWNER/REPO; images are OWNER/REPO/<app> (default: $GITHUB_REPOSITORY).",
    )
    group.add_argument(
        "--apps",
        default=default(None),
        help="Comma-separated apps (default: every Metaboost app).",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="Print one JSON document on stdout.",
    )
    group.add_argument(
        "--git-remote",
        default=default(None),
        help="Use this Git remote (URL or path) as the tag store instead of the GitHub "
        "API: tags are pushed, without hooks, from --source or else the current "
        "directory, which must be a checkout with the commit; no GitHub releases are made.",
    )
    group.add_argument(
        "--github-api-url",
        default=default(os.environ.get("GITHUB_API_URL") or "https://api.github.com"),
        help="GitHub REST API base URL (default: $GITHUB_API_URL or the public API).",
    )


def add_command(sub: Any, name: str, help_text: str, epilog: str) -> argparse.ArgumentParser:
    """A command's parser: ``help_text`` as its description, ``epilog`` (its environment
    variables and exit codes) at the end of its --help, kept as written."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def add_release_command(sub: Any, name: str, help_text: str, handler: Callable[..., Any]) -> Any:
    """A release command's parser: the global options after its own, the environment and
    exit codes at the end of its --help; ``handler`` returns an ``Outcome``."""
    parser = add_command(sub, name, help_text, ENVIRONMENT_HELP)
    add_global_options(parser, defaults=False)
    parser.set_defaults(handler=handler)
    return parser
