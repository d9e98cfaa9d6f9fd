"""Metaboost's six images and where their Dockerfiles live."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import InputError

DEFAULT_APPS: tuple[str, ...] = (
    "api",
    "management-api",
    "web",
    "web-sidecar",
    "management-web",
    "management-web-sidecar",
)
_APP_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def image_name(repository: str, app: str) -> str:
    """The repository path of ``app`` on the registry, e.g. ``owner/repo/api``.

    Registry names must be lower case; GitHub owners and repositories often
    are not (``docker push`` lower-cases them for GHCR the same way).
    """
    return f"{repository.lower()}/{app}"


def dockerfile_path(app: str) -> str:
    """The Dockerfile of ``app``, relative to the monorepo root."""
    return f"infra/docker/local/{app}/Dockerfile"


def choose_known(
    names: Sequence[str], known: Sequence[str], *, what: str, given: str | None = None
) -> tuple[str, ...]:
    """``names`` checked against ``known``: unknown or repeated names are input errors.

    ``what`` names the kind in messages ("app", "validate step"); ``given`` is
    the text as typed, quoted when a name repeats.
    """
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"Unknown {what}(s): {', '.join(unknown)}.",
            fix=f"Choose from: {', '.join(known)}.",
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        where = f" in {given!r}" if given is not None else ""
        raise InputError(
            f"{what.capitalize()}(s) named twice{where}: {', '.join(repeated)}.",
            fix="Name each once.",
        )
    return tuple(names)


def parse_apps(text: str | None, known: tuple[str, ...] = DEFAULT_APPS) -> tuple[str, ...]:
    """Parse ``a,b,c`` (None or empty: every app); unknown or repeated names are errors."""
    if not text:
        return known
    apps = [a.strip() for a in text.split(",") if a.strip()]
    return choose_known(apps, known, what="app", given=text)


def validate_app_names(apps: tuple[str, ...]) -> tuple[str, ...]:
    """Check names are valid repository path components (for custom app lists)."""
    bad = [a for a in apps if not _APP_RE.match(a)]
    if bad:
        raise InputError(
            f"App name(s) not usable as image names: {', '.join(bad)}.",
            fix="Use lower-case letters, digits and . _ - only.",
        )
    return apps
