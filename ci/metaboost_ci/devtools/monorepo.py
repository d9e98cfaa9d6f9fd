"""Monorepo edits for bump-version: package.json versions, the lockfile, the changelog.

Read through a ``Tree`` so the same plan is made on a local checkout (the
command line) and on a ``dagger.Directory`` (the Dagger module). Versions are
edited textually, never by re-dumping JSON: indentation, key order, line
endings and the trailing newline stay byte-for-byte what the author wrote.

A version bump changes versions only: in ``package-lock.json`` that is the
root's ``version`` (top level and the ``""`` entry) and each workspace entry's
(``packages["apps/api"]``), what ``npm install`` would write after the edits
without re-resolving any dependency. ``node_modules/*`` entries (the
workspaces' links, dependencies that happen to share the old version) stay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, cast

import anyio

from ..core.errors import ConfigError
from ..core.versions import CHANGELOG_DIR, changelog_path, parse_package_json, require_base_version

ROOT_PACKAGE = "package.json"
LOCKFILE = "package-lock.json"
# A repository's own changelog template; ``{{version}}`` is replaced by X.Y.Z.
CHANGELOG_TEMPLATE = f"{CHANGELOG_DIR}/TEMPLATE.md"
VERSION_PLACEHOLDER = "{{version}}"
_WS = " \t\r\n"


class Tree(Protocol):
    """Read access to a monorepo; paths are relative, ``/``-separated."""

    async def read(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""
        ...

    async def glob(self, pattern: str) -> list[str]:
        """Relative paths of the files matching ``pattern`` (``*``, ``**``)."""
        ...


class LocalTree:
    """A ``Tree`` over a directory on this machine."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def read(self, path: str) -> str | None:
        target = anyio.Path(self.root / path)
        try:
            # Bytes, not text mode: text mode would turn CRLF into LF.
            data = await target.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return data.decode("utf-8")

    async def glob(self, pattern: str) -> list[str]:
        def run() -> list[str]:
            return sorted(
                p.relative_to(self.root).as_posix() for p in self.root.glob(pattern) if p.is_file()
            )

        return await anyio.to_thread.run_sync(run)


@dataclass(frozen=True)
class BumpPlan:
    """What bump-version will write. ``changed`` holds only files whose text changes.

    ``changelog_template``: the repository's template it was made from, or ""
    (Metaboost's own format). ``lockfile``: "edited", "absent", or "" when the
    plan leaves the lockfile alone (it is regenerated, or skipped).
    """

    version: str
    previous_version: str
    changed: dict[str, str] = field(default_factory=lambda: {})
    changelog_path: str = ""
    changelog_created: bool = False
    changelog_template: str = ""
    packages: list[str] = field(default_factory=lambda: [])
    lockfile: str = ""


def changelog_template(version: str, template: str | None = None) -> str:
    """The starting text of ``docs/development/CHANGELOGS/X.Y.Z.md``.

    ``template``: the repository's ``CHANGELOG_TEMPLATE`` text, if it has one.
    Without one, exactly what Metaboost's ``scripts/publish/bump-version.sh`` writes.
    """
    if template is not None:
        return template.replace(VERSION_PLACEHOLDER, version)
    return (
        f"# Changelog {version}\n"
        "\n"
        f"_Update this file continuously during development for version {version}._\n"
        "\n"
        "## Highlights\n"
        "\n"
        "- Add notable changes for this version.\n"
    )


def root_package(text: str | None) -> dict[str, Any]:
    """The root package.json's object, from its ``text`` (None: the file is missing)."""
    if text is None:
        raise ConfigError(
            f"There is no {ROOT_PACKAGE} at the monorepo root.",
            fix="Run from the monorepo root (or pass --source DIR).",
        )
    return parse_package_json(text, ROOT_PACKAGE)


async def plan_bump(tree: Tree, version: str, *, lockfile: bool = True) -> BumpPlan:
    """Plan setting ``version`` in the root and every workspace package.json.

    Also plans the changelog for ``version`` when it does not exist, and (with
    ``lockfile``) the lockfile's version edits. Nothing is written;
    ``write_plan`` (or the Dagger module) applies the plan.
    """
    require_base_version(version, what="version")
    root_text = await tree.read(ROOT_PACKAGE)
    root = root_package(root_text)
    previous: Any = root.get("version")
    packages = [ROOT_PACKAGE, *await _workspace_packages(tree, root)]
    changed: dict[str, str] = {}
    for path in packages:
        text = root_text if path == ROOT_PACKAGE else await tree.read(path)
        if text is None:  # pragma: no cover - glob said it exists
            continue
        edited = set_version(text, version, path=path)
        if edited != text:
            changed[path] = edited
    lockfile_state = ""
    if lockfile:
        lock_text = await tree.read(LOCKFILE)
        lockfile_state = "absent" if lock_text is None else "edited"
        if lock_text is not None:
            workspaces = [str(PurePosixPath(p).parent) for p in packages if p != ROOT_PACKAGE]
            edited = set_lockfile_versions(lock_text, version, workspaces)
            if edited != lock_text:
                changed[LOCKFILE] = edited
    log_path = changelog_path(version)
    created = await tree.read(log_path) is None
    template = await tree.read(CHANGELOG_TEMPLATE) if created else None
    if created:
        changed[log_path] = changelog_template(version, template)
    return BumpPlan(
        version=version,
        previous_version=previous if isinstance(previous, str) else "",
        changed=changed,
        changelog_path=log_path,
        changelog_created=created,
        changelog_template=CHANGELOG_TEMPLATE if template is not None else "",
        packages=packages,
        lockfile=lockfile_state,
    )


def write_plan(root: Path, plan: BumpPlan) -> list[str]:
    """Write every changed file under ``root``; returns their paths."""
    for path, text in plan.changed.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    return sorted(plan.changed)


async def _workspace_packages(tree: Tree, root: dict[str, Any]) -> list[str]:
    """package.json paths of the workspaces, globs expanded, in a stable order."""
    patterns = _workspace_patterns(root.get("workspaces"))
    included: set[str] = set()
    excluded: set[str] = set()
    for pattern in patterns:
        negate = pattern.startswith("!")
        clean = _check_pattern(pattern[1:] if negate else pattern)
        matches = await tree.glob(f"{clean}/package.json")
        found = {m for m in matches if "node_modules" not in PurePosixPath(m).parts}
        (excluded if negate else included).update(found)
    return sorted((included - excluded) - {ROOT_PACKAGE})


def _workspace_patterns(value: Any) -> list[str]:
    fix = 'Use "workspaces": ["packages/*", ...] or {"packages": ["packages/*", ...]}.'
    if value is None:
        return []
    if isinstance(value, dict):
        value = cast(dict[str, Any], value).get("packages", [])
    if not isinstance(value, list) or not all(isinstance(p, str) for p in cast(list[Any], value)):
        raise ConfigError('The root package.json has a "workspaces" of an unknown shape.', fix=fix)
    return cast(list[str], value)


def _check_pattern(pattern: str) -> str:
    clean = pattern.strip().removeprefix("./").rstrip("/")
    if not clean or clean.startswith("/") or ".." in PurePosixPath(clean).parts:
        raise ConfigError(
            f"The workspace pattern {pattern!r} points outside the monorepo.",
            fix="Workspace patterns are relative paths such as packages/*.",
        )
    return clean


# --- textual JSON editing -------------------------------------------------


@dataclass(frozen=True)
class _Member:
    key: str
    key_start: int
    key_end: int
    value_start: int
    value_end: int


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _members(text: str, start: int = 0) -> tuple[int, int, list[_Member]]:
    """The members of the object at ``start`` (the root by default) with their spans,
    and the offsets of its braces."""
    decoder = json.JSONDecoder()
    i = _skip_ws(text, start)
    open_brace = i
    i = _skip_ws(text, i + 1)
    members: list[_Member] = []
    while text[i] != "}":
        key, key_end = decoder.raw_decode(text, i)
        colon = _skip_ws(text, key_end)
        value_start = _skip_ws(text, colon + 1)
        _, value_end = decoder.raw_decode(text, value_start)
        members.append(_Member(key, i, key_end, value_start, value_end))
        i = _skip_ws(text, value_end)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
    return open_brace, i, members


def set_version(text: str, version: str, *, path: str = "package.json") -> str:
    """``text`` with the top-level ``"version"`` set to ``version``, all else untouched.

    A missing ``"version"`` is inserted after ``"name"`` (or first), in the
    file's own indentation and spacing.
    """
    before = parse_package_json(text, path)
    edited = _splice(text, _version_splices(text, 0, version))
    after = parse_package_json(edited, path)
    others_before = {k: v for k, v in before.items() if k != "version"}
    others_after = {k: v for k, v in after.items() if k != "version"}
    if after.get("version") != version or others_after != others_before:
        # The edit must change exactly one thing; anything else is a bug here.
        raise RuntimeError(f"Editing the version of {path} would change more than the version.")
    return edited


def set_lockfile_versions(text: str, version: str, workspaces: list[str]) -> str:
    """``package-lock.json``'s ``text`` with the versions a bump changes set, byte-exact.

    The root's (top level and ``packages[""]``) and each workspace's entry
    (``packages["apps/web/sidecar"]``); nothing else, ``node_modules/*`` included.
    """
    fix = "Pass --regenerate-lockfile to have npm write it afresh (or --skip-lockfile)."
    before: Any = parse_package_json(text, LOCKFILE)
    packages: Any = before.get("packages")
    if not isinstance(packages, dict):
        raise ConfigError(
            f'{LOCKFILE} has no "packages" object (lockfileVersion 1?), so its versions '
            "cannot be edited in place.",
            fix=fix,
        )
    entries = cast(dict[str, Any], packages)
    stale = [
        ws or '"" (the root)' for ws in ["", *workspaces] if not isinstance(entries.get(ws), dict)
    ]
    if stale:
        raise ConfigError(
            f"{LOCKFILE} has no entry for {', '.join(stale)}: it is out of date with the "
            "workspaces.",
            fix=fix,
        )
    _, _, top = _members(text)
    [packages_member] = [m for m in top if m.key == "packages"][-1:]
    _, _, nested = _members(text, packages_member.value_start)
    at = {m.key: m.value_start for m in nested}
    splices = [s for ws in ["", *workspaces] for s in _version_splices(text, at[ws], version)]
    if "version" in before:
        splices += _version_splices(text, 0, version)
    edited = _splice(text, splices)
    expected = before  # parsed from ``text``; now what the edited text must parse to
    if "version" in expected:
        expected["version"] = version
    for ws in ["", *workspaces]:
        entries[ws]["version"] = version
    if json.loads(edited) != expected:  # pragma: no cover - a bug here, not bad input
        raise RuntimeError(f"Editing the versions of {LOCKFILE} would change more than them.")
    return edited


def _splice(text: str, splices: list[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end, replacement) applied; the spans do not overlap."""
    for start, end, replacement in sorted(splices, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _version_splices(text: str, start: int, version: str) -> list[tuple[int, int, str]]:
    """The edits that set ``"version"`` in the object at ``start``."""
    open_brace, close_brace, members = _members(text, start)
    value = json.dumps(version)
    versions = [m for m in members if m.key == "version"]
    if versions:
        return [(m.value_start, m.value_end, value) for m in versions]
    if not members:
        return [(open_brace + 1, close_brace, f'\n  "version": {value}\n')]
    names = [m for m in members if m.key == "name"]
    anchor = names[-1] if names else members[0]
    # The whitespace before the anchor's key is this file's member
    # separator; the text between its key and value is its colon style.
    lead_start = open_brace + 1 if anchor is members[0] else _previous_comma(text, anchor) + 1
    lead = text[lead_start : anchor.key_start]
    colon = text[anchor.key_end : anchor.value_start]
    entry = f'"version"{colon}{value}'
    if names:
        return [(anchor.value_end, anchor.value_end, "," + lead + entry)]
    return [(anchor.key_start, anchor.key_start, entry + "," + lead)]


def _previous_comma(text: str, member: _Member) -> int:
    return text.rindex(",", 0, member.key_start)
