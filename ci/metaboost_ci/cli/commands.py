"""What every command module shares: the registrar type and the global options."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

# Each registrar adds its subcommands; a subcommand sets ``handler`` with
# ``set_defaults(handler=...)``, a callable taking the parsed namespace and
# returning an ``Outcome``.
# argparse does not export the type of add_subparsers()' result.
Registrar = Callable[[Any], None]


def add_global_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """The options every command shares.

    Added to the top-level parser with their defaults, and again to each
    subcommand with ``defaults=False`` (no default, so they only override when
    given): ``metaboost-ci reserve --json`` works as well as
    ``metaboost-ci --json reserve``.
    """

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--registry",
        default=default("https://ghcr.io"),
        help="Registry URL; http:// for local registries (default: https://ghcr.io).",
    )
    parser.add_argument(
        "--repository",
        default=default(os.environ.get("GITHUB_REPOSITORY")),
        help="OWNER/REPO; images are OWNER/REPO/<app> (default: $GITHUB_REPOSITORY).",
    )
    parser.add_argument(
        "--apps",
        default=default(None),
        help="Comma-separated apps (default: the six Metaboost apps).",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="Print one JSON document on stdout.",
    )
    parser.add_argument(
        "--git-remote",
        default=default(None),
        help="Use this Git remote as the tag store instead of the GitHub API "
        "(no GitHub releases are made).",
    )
    parser.add_argument(
        "--github-api-url",
        default=default(os.environ.get("GITHUB_API_URL") or "https://api.github.com"),
        help="GitHub REST API base URL (default: $GITHUB_API_URL or the public API).",
    )
