"""Which command modules exist, and the options every command shares."""

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

REGISTRARS: list[Registrar] = []


def add_global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        default="https://ghcr.io",
        help="Registry URL; http:// for local registries (default: %(default)s).",
    )
    parser.add_argument(
        "--repository",
        default=os.environ.get("GITHUB_REPOSITORY"),
        help="OWNER/REPO; images are OWNER/REPO/<app> (default: $GITHUB_REPOSITORY).",
    )
    parser.add_argument(
        "--apps", default=None, help="Comma-separated apps (default: the six Metaboost apps)."
    )
    parser.add_argument("--json", action="store_true", help="Print one JSON document on stdout.")
    parser.add_argument(
        "--git-remote",
        default=None,
        help="Use this Git remote as the tag store instead of the GitHub API "
        "(no GitHub releases are made).",
    )
    parser.add_argument(
        "--github-api-url",
        default=os.environ.get("GITHUB_API_URL") or "https://api.github.com",
        help="GitHub REST API base URL (default: $GITHUB_API_URL or the public API).",
    )
