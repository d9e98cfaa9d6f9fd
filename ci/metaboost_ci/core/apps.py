"""Metaboost's images as data: each app's name, Dockerfile and sidecar.

``APPS`` is the one list: the default ``--apps``, the builds (each app's
Dockerfile) and the smoke test's pairs (a web app started against its
sidecar) all come from it. A seventh app is one line here plus its files in
the monorepo (and in ``sample/`` for the rehearsal).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class App:
    """One image the pipeline builds and releases."""

    name: str
    # Relative to the monorepo root.
    dockerfile: str
    # The app that serves this (web) app's runtime configuration; the smoke
    # test starts the two together, and this one alone to see it fall back.
    sidecar: str | None = None

    @classmethod
    def conventional(cls, name: str, *, sidecar: str | None = None) -> App:
        """An app whose Dockerfile is at ``infra/docker/local/NAME/Dockerfile``."""
        return cls(name, f"infra/docker/local/{name}/Dockerfile", sidecar)


APPS: tuple[App, ...] = (
    App.conventional("api"),
    App.conventional("management-api"),
    App.conventional("web", sidecar="web-sidecar"),
    App.conventional("web-sidecar"),
    App.conventional("management-web", sidecar="management-web-sidecar"),
    App.conventional("management-web-sidecar"),
)
APP_BY_NAME: dict[str, App] = {app.name: app for app in APPS}
DEFAULT_APPS: tuple[str, ...] = tuple(app.name for app in APPS)
# web app -> its sidecar (the smoke test's pairs).
SIDECARS: dict[str, str] = {app.name: app.sidecar for app in APPS if app.sidecar is not None}
_APP_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def dockerfile_path(app: str) -> str:
    """An app's Dockerfile, relative to the monorepo root: its ``App``'s, or for a name not
    in ``APPS`` (the Dagger module's ``--apps``) the conventional place."""
    return APP_BY_NAME.get(app, App.conventional(app)).dockerfile


def image_name(repository: str, app: str) -> str:
    """The repository path of ``app`` on the registry, e.g. ``owner/repo/api``.

    Registry names must be lower case; GitHub owners and repositories often
    are not (``docker push`` lower-cases them the same way).
    """
    return f"{repository.lower()}/{app}"


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
    """Parse ``a,b,c`` (None: every app); unknown, repeated or no names are errors."""
    if text is None:
        return known
    apps = require_some_apps(text.split(","), given=text)
    return choose_known(apps, known, what="app", given=text)


def require_some_apps(names: Sequence[str], *, given: str | None = None) -> tuple[str, ...]:
    """``names`` stripped, blanks dropped; an input error when none is left.

    An empty list is never "every app" once a list was given: ``--apps ','``
    would otherwise promote nothing and still tag and release the version
    (the command line and the Dagger module's ``--apps`` share this check).
    """
    apps = tuple(name.strip() for name in names if name.strip())
    if not apps:
        shown = repr(given) if given is not None else repr(list(names))
        raise InputError(
            f"--apps {shown} names no app, and a release of zero apps is no release.",
            fix="Name at least one app, e.g. --apps api,web, or leave --apps out for all "
            f"{len(DEFAULT_APPS)}.",
        )
    return apps


def validate_app_names(names: Sequence[str] | None) -> tuple[str, ...]:
    """A custom app list (the Dagger module's ``--apps``; None: every app of ``APPS``).

    Blanks are dropped and an empty list refused (``require_some_apps``); each
    name must be a valid repository path component.
    """
    if names is None:
        return DEFAULT_APPS
    apps = require_some_apps(names)
    bad = [a for a in apps if not _APP_RE.match(a)]
    if bad:
        raise InputError(
            f"App name(s) not usable as image names: {', '.join(bad)}.",
            fix="Use lower-case letters, digits and . _ - only.",
        )
    return apps
