"""Monorepo edits for bump-version: package.json versions and the changelog.

Read through a ``Tree`` so the same plan is made on a local checkout (the
command line) and on a ``dagger.Directory`` (the Dagger module). Versions are
edited textually, never by re-dumping JSON: indentation, key order, line
endings and the trailing newline stay byte-for-byte what the author wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, cast

import anyio

from .errors import ConfigError
from .flows.notes import changelog_path  # the file the release reads its notes from
from .versions import parse_package_json, require_base_version

ROOT_PACKAGE = "package.json"
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
    """What bump-version will write. ``changed`` holds only files whose text changes."""

    version: str
    previous_version: str
    changed: dict[str, str] = field(default_factory=lambda: {})
    changelog_path: str = ""
    changelog_created: bool = False
    packages: list[str] = field(default_factory=lambda: [])


def changelog_template(version: str) -> str:
    """The starting text of ``docs/development/CHANGELOGS/X.Y.Z.md``."""
    return (
        f"# {version}\n"
        "\n"
        f"<!-- Release notes for {version}. The staging prereleases ({version}-staging.N)\n"
        f"     and the {version} release both use this file: update it as work lands. -->\n"
        "\n"
        "## Added\n"
        "\n"
        "## Changed\n"
        "\n"
        "## Fixed\n"
    )


def root_package(text: str | None) -> dict[str, Any]:
    """The root package.json's object, from its ``text`` (None: the file is missing)."""
    if text is None:
        raise ConfigError(
            f"There is no {ROOT_PACKAGE} at the monorepo root.",
            fix="Run from the monorepo root (or pass --source DIR).",
        )
    return parse_package_json(text, ROOT_PACKAGE)


async def plan_bump(tree: Tree, version: str) -> BumpPlan:
    """Plan setting ``version`` in the root and every workspace package.json.

    Also plans the changelog for ``version`` when it does not exist. Nothing
    is written; ``write_plan`` (or the Dagger module) applies the plan.
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
    log_path = changelog_path(version)
    created = await tree.read(log_path) is None
    if created:
        changed[log_path] = changelog_template(version)
    return BumpPlan(
        version=version,
        previous_version=previous if isinstance(previous, str) else "",
        changed=changed,
        changelog_path=log_path,
        changelog_created=created,
        packages=packages,
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


def _members(text: str) -> tuple[int, int, list[_Member]]:
    """The root object's members with their spans, and the braces' offsets."""
    decoder = json.JSONDecoder()
    i = _skip_ws(text, 0)
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
    open_brace, close_brace, members = _members(text)
    value = json.dumps(version)
    versions = [m for m in members if m.key == "version"]
    if versions:
        edited = text
        for m in sorted(versions, key=lambda m: m.value_start, reverse=True):
            edited = edited[: m.value_start] + value + edited[m.value_end :]
    elif not members:
        edited = text[: open_brace + 1] + f'\n  "version": {value}\n' + text[close_brace:]
    else:
        names = [m for m in members if m.key == "name"]
        anchor = names[-1] if names else members[0]
        # The whitespace before the anchor's key is this file's member
        # separator; the text between its key and value is its colon style.
        lead_start = open_brace + 1 if anchor is members[0] else _previous_comma(text, anchor) + 1
        lead = text[lead_start : anchor.key_start]
        colon = text[anchor.key_end : anchor.value_start]
        entry = f'"version"{colon}{value}'
        if names:
            at = anchor.value_end
            edited = text[:at] + "," + lead + entry + text[at:]
        else:
            at = anchor.key_start
            edited = text[:at] + entry + "," + lead + text[at:]
    after = parse_package_json(edited, path)
    others_before = {k: v for k, v in before.items() if k != "version"}
    others_after = {k: v for k, v in after.items() if k != "version"}
    if after.get("version") != version or others_after != others_before:
        # The edit must change exactly one thing; anything else is a bug here.
        raise RuntimeError(f"Editing the version of {path} would change more than the version.")
    return edited


def _previous_comma(text: str, member: _Member) -> int:
    return text.rindex(",", 0, member.key_start)
