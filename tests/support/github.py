"""A GitHub REST API emulator for tests: a real HTTP server over a real Git repository.

The server runs in a thread on 127.0.0.1 and answers the endpoints the release
flows use with GitHub's documented status codes, JSON bodies and headers
(``documentation_url``, ``status``, rate-limit headers on every answer). Tags
live in a real bare repository: ``POST git/refs`` runs ``git update-ref
refs/tags/X SHA ""`` (the empty old value makes Git refuse when the ref
exists), so concurrent creates race exactly as they do on a Git server, and
annotated tags are real tag objects read with ``git cat-file``. Releases are
kept in memory.

Who may see what follows GitHub: an unknown token is 401 "Bad credentials"; a
private repository (the default) is 404 "Not Found" to a request without a
token and to a valid token that cannot see it (``outsider_token``), because
GitHub hides a private repository's existence; a public one lets anyone read
and answers writes 401 "Requires authentication" without a token, 403 with
another repository's. A
repository without commits (``make_empty_repos``) answers the Git database
endpoints 409 "Git Repository is empty.", as GitHub does.

``faults`` switches inject GitHub's failure modes: a 5xx or a dropped
connection after a write was performed, primary and secondary rate limits,
the transient 422 "Reference update failed", a token without write access.
Every request is logged in ``requests``.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

from metaboost_ci.core.github import GitHubClient
from metaboost_ci.core.net import RetryPolicy

from .gitrepo import DEFAULT_BRANCH, GitRepos, git_in, init_repos, make_repos
from .ports import LoopbackServer, LoopbackService

API_VERSIONS = ("2022-11-28", "2026-03-10")
DOCS = "https://docs.github.com/rest"
REFS_DOCS = "https://docs.github.com/rest/git/refs#create-a-reference"
RELEASES_DOCS = "https://docs.github.com/rest/releases/releases#create-a-release"
RATE_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
RATE_LIMIT = 5000
REPOSITORY_ID = 1
# What a 403 for a missing permission names, in the header GitHub sends to
# fine-grained actors (Actions token, Apps, fine-grained PATs): "X-Accepted-
# GitHub-Permissions header for fine-grained permission actors", GitHub
# changelog 2023-08-10; "Troubleshooting the REST API", insufficient permission.
CONTENTS_WRITE = {"x-accepted-github-permissions": "contents=write"}
NO_USER_AGENT = (
    "Request forbidden by administrative rules. Please make sure your request has a "
    "User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
    "#user-agent-required). Check https://developer.github.com for other possible causes.\n"
)
# Git database endpoints (refs, tag and commit objects) on a repository with no
# commits. Body as api.github.com sends it for POST git/refs on a repository made
# with auto_init=false (a recorded conformance test); GitHub's OpenAPI description
# lists 409 "Conflict" for these endpoints.
EMPTY_MESSAGE = "Git Repository is empty."
# Git database routes, by their path under /repos/{owner}/{repo}.
GIT_DATABASE = re.compile(r"/git/(refs|ref/.*|matching-refs/.*|tags/.*|commits/.*)")
# git update-ref waits this long for a ref lock held by a concurrent create,
# then sees the winner's ref and refuses: a lost race is "already exists".
REF_LOCK_TIMEOUT_MS = "10000"


@dataclass
class Faults:
    """Failure switches. Counters fire on that many matching requests, then stop."""

    # Writes (POST git/refs, POST releases) performed, then answered 502.
    error_after_write: int = 0
    # Writes performed, then the connection closed without any answer.
    drop_after_write: int = 0
    # Any request answered 502 before anything is done.
    server_error: int = 0
    # POST git/refs answered 422 "Reference update failed" without writing.
    reference_update_failed: int = 0
    # Any request answered 403 with x-ratelimit-remaining 0 and a reset this far ahead.
    primary_rate_limit: int = 0
    primary_reset_in: int = 2
    # Any request answered 403 "secondary rate limit", with retry-after unless None.
    secondary_rate_limit: int = 0
    secondary_retry_after: int | None = 3
    # GitHub answers either limit with 403 or 429 ("Rate limits for the REST API":
    # "you will receive a 403 or 429 response").
    rate_limit_status: int = 403
    # Writes refused like an Actions token without ``contents: write``.
    read_only: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, name: str) -> bool:
        """Consume one firing of counter ``name``; False when it is spent."""
        with self._lock:
            left: int = getattr(self, name)
            if left <= 0:
                return False
            setattr(self, name, left - 1)
            return True


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int | None = None  # None when the connection was dropped
    response_headers: dict[str, str] = field(default_factory=dict[str, str])


class _Drop(Exception):
    """Close the connection without answering."""


class _Answer(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(
    status: int,
    message: str,
    documentation_url: str = DOCS,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> _Answer:
    body = {"message": message, **extra, "documentation_url": documentation_url}
    body["status"] = str(status)
    return _Answer(status, body, dict(headers or {}))


def _no_write_access(documentation_url: str) -> _Answer:
    """What an Actions token without ``contents: write`` gets for a write."""
    return _error(403, "Resource not accessible by integration", documentation_url, CONTENTS_WRITE)


class GitHubEmulator(LoopbackService):
    """The emulator's state and its HTTP server; see the module docstring."""

    def __init__(
        self,
        repos: GitRepos,
        *,
        repository: str = "acme/metaboost",
        token: str | None = None,
        path_prefix: str = "",
    ) -> None:
        self.repos = repos
        self.bare_repo = repos.bare
        self.work_repo = repos.work
        self.repository = repository
        # Random per emulator, so a test that looks for the token in output finds only a leak.
        self.token = token or f"ghs_{secrets.token_hex(18)}"
        # A valid token that cannot see this repository (another installation's).
        self.outsider_token = f"ghs_{secrets.token_hex(18)}"
        # GitHub hides a private repository from whoever cannot see it (404).
        self.private = True
        self.path_prefix = path_prefix.rstrip("/")
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.releases: dict[int, dict[str, Any]] = {}
        self.latest_release_id: int | None = None
        # When set, matching-refs answers pages of this size with a Link header.
        self.page_size: int | None = None
        self._release_ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._used = 0
        self._window_reset = int(time.time()) + 3600
        self.server = LoopbackServer(_handler_for(self))
        self.api_url = f"{self.server.url}{self.path_prefix}"

    # -- conveniences for tests ------------------------------------------------

    def commit(self, message: str | None = None) -> str:
        """A new commit on main, pushed to the emulated repository."""
        return self.repos.commit(message)

    def lightweight_tag(self, name: str, sha: str) -> None:
        self.repos.remote_tag_create(name, sha)

    def annotated_tag(self, name: str, sha: str, message: str = "release") -> str:
        """A real annotated tag (``git tag -a`` in the repository); returns the tag object's SHA."""
        return self.repos.remote_tag_create(name, sha, message=message)

    def tag_target(self, name: str) -> str | None:
        """What ``refs/tags/<name>`` holds (a tag object for annotated tags), or None."""
        return self.repos.remote_tag(name)

    def tags(self) -> dict[str, str]:
        """Every tag, peeled to its commit."""
        return self.repos.remote_tags()

    def requests_for(self, method: str, path_part: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # -- rate-limit bookkeeping ------------------------------------------------

    def rate_headers(self, *, exhausted_until: int | None = None) -> dict[str, str]:
        with self._lock:
            if exhausted_until is None:
                self._used += 1
                used, reset = self._used, self._window_reset
            else:
                used, reset = RATE_LIMIT, exhausted_until
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(max(0, RATE_LIMIT - used)),
            "x-ratelimit-used": str(min(used, RATE_LIMIT)),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }

    # -- the API ------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> _Answer:
        """Route one authenticated request; raise ``_Answer`` or ``_Drop``."""
        repo_path = f"/repos/{self.repository}"
        # GitHub's Link headers name the repository by id: /repositories/{id}/...
        by_id = f"/repositories/{REPOSITORY_ID}"
        if path == by_id or path.startswith(by_id + "/"):
            path = repo_path + path[len(by_id) :]
        if path != repo_path and not path.startswith(repo_path + "/"):
            raise _error(404, "Not Found")
        rest = path[len(repo_path) :]
        if GIT_DATABASE.fullmatch(rest) and self._is_empty():
            raise _error(409, EMPTY_MESSAGE, _git_docs(rest))
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"", self._get_repository),
            ("POST", r"/git/refs", self._create_ref),
            ("GET", r"/git/ref/(?P<ref>.+)", self._get_ref),
            ("GET", r"/git/matching-refs/(?P<ref>.*)", self._matching_refs),
            ("GET", r"/git/tags/(?P<sha>[0-9a-fA-F]+)", self._get_tag_object),
            ("GET", r"/git/commits/(?P<sha>[^/]+)", self._get_git_commit),
            ("GET", r"/commits/(?P<sha>[^/]+)", self._get_commit),
            ("GET", r"/releases/tags/(?P<tag>.+)", self._get_release_by_tag),
            ("GET", r"/releases/latest", self._get_latest_release),
            ("GET", r"/releases/(?P<id>\d+)", self._get_release),
            ("POST", r"/releases", self._create_release),
            ("PATCH", r"/releases/(?P<id>\d+)", self._update_release),
        ]
        for route_method, pattern, action in routes:
            match = re.fullmatch(pattern, rest)
            if match and route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                return action(query=query, body=body, **params)
        raise _error(404, "Not Found")

    def _is_empty(self) -> bool:
        """True while the repository has no commits (no refs at all)."""
        return not git_in(self.bare_repo, "for-each-ref", "--count=1").stdout.strip()

    def _url(self, path: str) -> str:
        return f"{self.api_url}/repos/{self.repository}{path}"

    def _get_repository(self, **_: Any) -> _Answer:
        owner, name = self.repository.split("/")
        return _Answer(
            200,
            {
                "id": REPOSITORY_ID,
                "name": name,
                "full_name": self.repository,
                "owner": {"login": owner},
                "private": self.private,
                "default_branch": DEFAULT_BRANCH,
                "url": self._url(""),
            },
        )

    # refs

    def _object_type(self, sha: str) -> str | None:
        result = git_in(self.bare_repo, "cat-file", "-t", sha, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def _ref_json(self, ref: str, sha: str) -> dict[str, Any]:
        kind = self._object_type(sha) or "commit"
        plural = {"commit": "commits", "tag": "tags", "tree": "trees", "blob": "blobs"}[kind]
        return {
            "ref": ref,
            "node_id": f"REF_{abs(hash(ref)) % 10**12}",
            "url": self._url(f"/git/{quote(ref)}"),
            "object": {"sha": sha, "type": kind, "url": self._url(f"/git/{plural}/{sha}")},
        }

    def _read_ref(self, ref: str) -> str | None:
        result = git_in(self.bare_repo, "rev-parse", "-q", "--verify", ref, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def _create_ref(self, body: Any, **_: Any) -> _Answer:
        if self.faults.read_only:
            raise _no_write_access(REFS_DOCS)
        if not isinstance(body, dict) or not body.get("ref") or not body.get("sha"):
            raise _error(422, 'Invalid request.\n\n"ref", "sha" weren\'t supplied.', REFS_DOCS)
        ref, sha = str(body["ref"]), str(body["sha"])
        # Wording as api.github.com sends it (the same recorded conformance test).
        if not ref.startswith("refs/"):
            raise _error(422, "Reference name must start with 'refs/'.", REFS_DOCS)
        if ref.count("/") < 2:
            raise _error(
                422,
                "Reference name must contain at least three slash-separated components.",
                REFS_DOCS,
            )
        if git_in(self.bare_repo, "check-ref-format", ref, check=False).returncode != 0:
            # The emulator's wording: GitHub's text for a malformed name is not documented.
            raise _error(422, f"{ref} is not a valid ref name.", REFS_DOCS)
        if not re.fullmatch(r"[0-9a-f]{40}", sha) or self._object_type(sha) is None:
            raise _error(422, "Object does not exist", REFS_DOCS)
        if self.faults.take("reference_update_failed"):
            raise _error(422, "Reference update failed", REFS_DOCS)
        created = git_in(
            self.bare_repo,
            "-c",
            f"core.filesRefLockTimeout={REF_LOCK_TIMEOUT_MS}",
            "update-ref",
            ref,
            sha,
            "",
            check=False,
        )
        if created.returncode != 0:
            if self._read_ref(ref) is not None:
                raise _error(422, "Reference already exists", REFS_DOCS)
            raise RuntimeError(f"update-ref failed: {created.stderr}")
        self._after_write()
        return _Answer(201, self._ref_json(ref, sha), {"location": self._url(f"/git/{ref}")})

    def _after_write(self) -> None:
        if self.faults.take("drop_after_write"):
            raise _Drop
        if self.faults.take("error_after_write"):
            raise _error(502, "Server Error")

    def _get_ref(self, ref: str, **_: Any) -> _Answer:
        full = f"refs/{ref}"
        if not ref.startswith(("tags/", "heads/")):
            raise _error(404, "Not Found", "https://docs.github.com/rest/git/refs#get-a-reference")
        sha = self._read_ref(full)
        if sha is None:
            raise _error(404, "Not Found", "https://docs.github.com/rest/git/refs#get-a-reference")
        return _Answer(200, self._ref_json(full, sha))

    def _matching_refs(self, ref: str, query: dict[str, list[str]], **_: Any) -> _Answer:
        prefix = f"refs/{ref}"
        out = git_in(
            self.bare_repo, "for-each-ref", "--sort=refname", "--format=%(refname) %(objectname)"
        ).stdout
        found = [
            self._ref_json(name, sha)
            for name, sha in (line.split() for line in out.splitlines())
            if name.startswith(prefix)
        ]
        headers: dict[str, str] = {}
        if self.page_size is not None:
            page = int(query.get("page", ["1"])[0])
            start = (page - 1) * self.page_size
            pages = max(1, -(-len(found) // self.page_size))
            # As on api.github.com, the links use the repository's id, not its name.
            base = (
                f"{self.api_url}/repositories/{REPOSITORY_ID}/git/matching-refs/"
                f"{quote(ref)}?per_page={self.page_size}"
            )
            if page < pages:
                headers["link"] = (
                    f'<{base}&page={page + 1}>; rel="next", <{base}&page={pages}>; rel="last"'
                )
            found = found[start : start + self.page_size]
        return _Answer(200, found, headers)

    def _get_tag_object(self, sha: str, **_: Any) -> _Answer:
        if self._object_type(sha) != "tag":
            raise _error(404, "Not Found", "https://docs.github.com/rest/git/tags#get-a-tag")
        raw = git_in(self.bare_repo, "cat-file", "tag", sha).stdout
        header, _, message = raw.partition("\n\n")
        fields = dict(line.split(" ", 1) for line in header.splitlines())
        name, email, stamp = _person(fields.get("tagger", "unknown <> 0 +0000"))
        target, kind = fields["object"], fields["type"]
        plural = {"commit": "commits", "tag": "tags", "tree": "trees", "blob": "blobs"}[kind]
        return _Answer(
            200,
            {
                "node_id": f"TAG_{sha[:12]}",
                "sha": sha,
                "url": self._url(f"/git/tags/{sha}"),
                "tag": fields["tag"],
                "message": message,
                "tagger": {"name": name, "email": email, "date": stamp},
                "object": {
                    "type": kind,
                    "sha": target,
                    "url": self._url(f"/git/{plural}/{target}"),
                },
                "verification": {"verified": False, "reason": "unsigned"},
            },
        )

    def _commit_json(self, sha: str) -> dict[str, Any] | None:
        if not re.fullmatch(r"[0-9a-f]{40}", sha) or self._object_type(sha) != "commit":
            return None
        raw = git_in(self.bare_repo, "cat-file", "commit", sha).stdout
        header, _, message = raw.partition("\n\n")
        lines = [line.split(" ", 1) for line in header.splitlines()]
        author = _person(next(v for k, v in lines if k == "author"))
        committer = _person(next(v for k, v in lines if k == "committer"))
        tree = next(v for k, v in lines if k == "tree")
        return {
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "url": self._url(f"/git/commits/{sha}"),
            "html_url": f"https://github.com/{self.repository}/commit/{sha}",
            "author": dict(zip(("name", "email", "date"), author, strict=True)),
            "committer": dict(zip(("name", "email", "date"), committer, strict=True)),
            "message": message.rstrip("\n"),
            "tree": {"sha": tree, "url": self._url(f"/git/trees/{tree}")},
            "parents": [
                {"sha": v, "url": self._url(f"/git/commits/{v}")} for k, v in lines if k == "parent"
            ],
            "verification": {"verified": False, "reason": "unsigned"},
        }

    def _get_git_commit(self, sha: str, **_: Any) -> _Answer:
        commit = self._commit_json(sha)
        if commit is None:
            raise _error(
                404, "Not Found", "https://docs.github.com/rest/git/commits#get-a-commit-object"
            )
        return _Answer(200, commit)

    def _get_commit(self, sha: str, **_: Any) -> _Answer:
        commit = self._commit_json(sha)
        if commit is None:
            raise _error(
                422,
                f"No commit found for SHA: {sha}",
                "https://docs.github.com/rest/commits/commits#get-a-commit",
            )
        return _Answer(200, {"sha": sha, "commit": commit, "files": []})

    # releases

    def _release_json(self, release: dict[str, Any]) -> dict[str, Any]:
        rid, tag = release["id"], release["tag_name"]
        return {
            "url": self._url(f"/releases/{rid}"),
            "html_url": f"https://github.com/{self.repository}/releases/tag/{quote(tag)}",
            "assets_url": self._url(f"/releases/{rid}/assets"),
            "upload_url": f"https://uploads.github.com/repos/{self.repository}/releases/{rid}/assets{{?name,label}}",
            "tarball_url": self._url(f"/tarball/{quote(tag)}"),
            "zipball_url": self._url(f"/zipball/{quote(tag)}"),
            "node_id": f"RE_{rid}",
            "author": {"login": "github-actions[bot]", "type": "Bot"},
            "assets": [],
            **release,
        }

    def _get_release_by_tag(self, tag: str, **_: Any) -> _Answer:
        with self._lock:
            for release in self.releases.values():
                if release["tag_name"] == tag and not release["draft"]:
                    return _Answer(200, self._release_json(release))
        raise _error(
            404,
            "Not Found",
            "https://docs.github.com/rest/releases/releases#get-a-release-by-tag-name",
        )

    def _get_latest_release(self, **_: Any) -> _Answer:
        # GitHub: the release marked latest (make_latest), else 404.
        with self._lock:
            release = self.releases.get(self.latest_release_id or 0)
        if release is None:
            raise _error(
                404,
                "Not Found",
                "https://docs.github.com/rest/releases/releases#get-the-latest-release",
            )
        return _Answer(200, self._release_json(release))

    def _get_release(self, id: str, **_: Any) -> _Answer:
        with self._lock:
            release = self.releases.get(int(id))
        if release is None:
            raise _error(
                404, "Not Found", "https://docs.github.com/rest/releases/releases#get-a-release"
            )
        return _Answer(200, self._release_json(release))

    def _check_release_fields(self, body: dict[str, Any]) -> None:
        for key in ("draft", "prerelease"):
            if key in body and not isinstance(body[key], bool):
                raise _error(
                    422,
                    f"Invalid request.\n\nFor 'properties/{key}', "
                    f"{json.dumps(body[key])} is not a boolean.",
                    RELEASES_DOCS,
                )
        if "make_latest" in body and body["make_latest"] not in ("true", "false", "legacy"):
            raise _error(
                422,
                "Invalid request.\n\nFor 'properties/make_latest', "
                f'{json.dumps(body["make_latest"])} is not one of ["true", "false", "legacy"].',
                RELEASES_DOCS,
            )

    def _apply_latest(self, release: dict[str, Any], make_latest: str | None) -> None:
        if make_latest == "true" or (
            make_latest in (None, "legacy") and not release["draft"] and not release["prerelease"]
        ):
            self.latest_release_id = release["id"]

    def _create_release(self, body: Any, **_: Any) -> _Answer:
        if self.faults.read_only:
            raise _no_write_access(RELEASES_DOCS)
        if not isinstance(body, dict) or not body.get("tag_name"):
            raise _error(
                422,
                "Validation Failed",
                RELEASES_DOCS,
                errors=[{"resource": "Release", "code": "missing_field", "field": "tag_name"}],
            )
        self._check_release_fields(body)
        tag = str(body["tag_name"])
        with self._lock:
            if any(r["tag_name"] == tag for r in self.releases.values()):
                raise _error(
                    422,
                    "Validation Failed",
                    RELEASES_DOCS,
                    errors=[{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
                )
            target = str(body.get("target_commitish") or DEFAULT_BRANCH)
            if self._read_ref(f"refs/tags/{tag}") is None:
                # GitHub makes a missing tag at target_commitish (the default branch).
                sha = self._read_ref(target)
                if sha is None:
                    raise _error(
                        422,
                        "Validation Failed",
                        RELEASES_DOCS,
                        errors=[
                            {"resource": "Release", "code": "invalid", "field": "target_commitish"}
                        ],
                    )
                git_in(self.bare_repo, "update-ref", f"refs/tags/{tag}", sha, "")
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            release = {
                "id": next(self._release_ids),
                "tag_name": tag,
                "target_commitish": target,
                "name": body.get("name"),
                "body": body.get("body"),
                "draft": bool(body.get("draft", False)),
                "prerelease": bool(body.get("prerelease", False)),
                "created_at": now,
                "published_at": None if body.get("draft") else now,
            }
            self.releases[release["id"]] = release
            self._apply_latest(release, body.get("make_latest"))
        self._after_write()
        return _Answer(
            201, self._release_json(release), {"location": self._url(f"/releases/{release['id']}")}
        )

    def _update_release(self, id: str, body: Any, **_: Any) -> _Answer:
        if self.faults.read_only:
            raise _no_write_access(RELEASES_DOCS)
        if not isinstance(body, dict):
            raise _error(400, "Problems parsing JSON")
        self._check_release_fields(body)
        with self._lock:
            release = self.releases.get(int(id))
            if release is None:
                raise _error(
                    404,
                    "Not Found",
                    "https://docs.github.com/rest/releases/releases#update-a-release",
                )
            for key in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
                if key in body:
                    release[key] = body[key]
            self._apply_latest(release, body.get("make_latest", "unchanged"))
        return _Answer(200, self._release_json(release))


def _git_docs(rest: str) -> str:
    """The documentation_url GitHub sends for a Git database endpoint."""
    if rest == "/git/refs":
        return REFS_DOCS
    if rest.startswith("/git/matching-refs/"):
        return "https://docs.github.com/rest/git/refs#list-matching-references"
    if rest.startswith("/git/ref/"):
        return "https://docs.github.com/rest/git/refs#get-a-reference"
    if rest.startswith("/git/tags/"):
        return "https://docs.github.com/rest/git/tags#get-a-tag"
    return "https://docs.github.com/rest/git/commits#get-a-commit-object"


def _docs_for(method: str, path: str) -> str:
    """A plausible documentation_url for a refusal; GitHub names the endpoint's page."""
    rest = re.sub(r"^.*?/repos/[^/]+/[^/]+", "", path)
    if rest.startswith("/git/"):
        return _git_docs(rest)
    if rest.startswith("/releases"):
        return RELEASES_DOCS if method == "POST" else f"{DOCS}/releases/releases"
    return DOCS


def _person(value: str) -> tuple[str, str, str]:
    """``Name <email> 1700000000 +0000`` -> (name, email, ISO 8601 date)."""
    match = re.fullmatch(r"(.*) <(.*)> (\d+) ([+-]\d{4})", value.strip())
    if not match:
        return value, "", ""
    stamp = datetime.fromtimestamp(int(match.group(3)), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return match.group(1), match.group(2), stamp


def _handler_for(emulator: GitHubEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "GitHub.com"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            record = RecordedRequest(
                method=method,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=None,
            )
            emulator.requests.append(record)
            try:
                answer = self._answer(method, parts.path, record, raw)
            except _Drop:
                self.close_connection = True
                return
            self._send(answer, record)

        def _answer(self, method: str, path: str, record: RecordedRequest, raw: bytes) -> _Answer:
            faults = emulator.faults
            try:
                if raw:
                    try:
                        record.body = json.loads(raw)
                    except ValueError:
                        raise _error(400, "Problems parsing JSON") from None
                if not path.startswith(emulator.path_prefix + "/"):
                    raise _error(404, "Not Found")
                path = path[len(emulator.path_prefix) :]
                version = self.headers.get("x-github-api-version")
                if version is not None and version not in API_VERSIONS:
                    raise _error(400, f"API version '{version}' is not supported.")
                if not self.headers.get("user-agent"):
                    # "Requests with no User-Agent header will be rejected" (docs.github.com/
                    # rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent);
                    # GitHub's answer is a plain-text 403.
                    raise _Answer(403, NO_USER_AGENT)
                self._authorize(method, path)
                if faults.take("primary_rate_limit"):
                    until = int(time.time()) + faults.primary_reset_in
                    answer = _error(
                        faults.rate_limit_status,
                        "API rate limit exceeded for installation.",
                        RATE_DOCS,
                    )
                    answer.headers.update(emulator.rate_headers(exhausted_until=until))
                    raise answer
                if faults.take("secondary_rate_limit"):
                    answer = _error(faults.rate_limit_status, SECONDARY_MESSAGE, RATE_DOCS)
                    if faults.secondary_retry_after is not None:
                        answer.headers["retry-after"] = str(faults.secondary_retry_after)
                    raise answer
                if faults.take("server_error"):
                    raise _error(502, "Server Error")
                return emulator.handle(method, path, record.query, record.body)
            except _Answer as answer:
                return answer

        def _authorize(self, method: str, path: str) -> None:
            """Refuse as GitHub does: 401 only for a token GitHub does not know.

            A private repository is 404 to anyone who cannot see it, with or
            without a token: GitHub's "Troubleshooting the REST API" (404 for an
            existing repository) says it answers 404 rather than 403 so as to give
            no information about private repositories. A public one is readable
            by all; writing to it takes a token that may (else 401 without one,
            403 for another repository's token).
            """
            auth = self.headers.get("authorization", "")
            scheme, _, given = auth.partition(" ")
            if auth and (
                scheme.lower() not in ("bearer", "token")
                or given not in (emulator.token, emulator.outsider_token)
            ):
                # GitHub's body for an unknown, expired or revoked token (as users
                # report it): {"message": "Bad credentials", "documentation_url":
                # "https://docs.github.com/rest"}; newer answers add "status".
                raise _error(401, "Bad credentials")
            if auth and given == emulator.token:
                return
            if emulator.private:
                raise _error(404, "Not Found", _docs_for(method, path))
            if method == "GET":
                return  # a public repository is readable by anyone
            if given == emulator.outsider_token:
                raise _no_write_access(_docs_for(method, path))
            raise _error(401, "Requires authentication", _docs_for(method, path))

        def _send(self, answer: _Answer, record: RecordedRequest) -> None:
            text = isinstance(answer.body, str)
            payload = answer.body.encode() if text else json.dumps(answer.body).encode()
            headers = {
                "content-type": "text/plain" if text else "application/json; charset=utf-8",
                "x-github-api-version-selected": API_VERSIONS[0],
                "x-github-request-id": f"EMU:{len(emulator.requests)}",
                **(emulator.rate_headers() if "x-ratelimit-limit" not in answer.headers else {}),
                **answer.headers,
            }
            # Recorded before the first byte goes out: the client may act on
            # the answer (and a test read the record) before this thread resumes.
            record.status = answer.status
            record.response_headers = headers
            self.send_response(answer.status, HTTPStatus(answer.status).phrase)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def make_empty_repos(root: Path, name: str = "origin") -> GitRepos:
    """A bare repository with no commits (GitHub's "empty" repository) and a clone of it.

    ``repos.commit()`` pushes the first commit, after which the repository is
    no longer empty.
    """
    return init_repos(root, name)


class RecordingSleep:
    """A ``RetryPolicy.sleep`` that records the waits asked for instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def emulator_client(
    emulator: GitHubEmulator, *, token: str | None = "", **policy: Any
) -> tuple[GitHubClient, RecordingSleep]:
    """A GitHubClient for ``emulator`` whose retries record their waits (and never wait).

    ``token=""`` means the emulator's token; pass None for no token.
    """
    sleep = RecordingSleep()
    client = GitHubClient(
        emulator.repository,
        token=emulator.token if token == "" else token,
        api_url=emulator.api_url,
        policy=RetryPolicy(sleep=sleep, **policy),
    )
    return client, sleep


@pytest.fixture
def github_emulator(tmp_path: Path) -> Iterator[GitHubEmulator]:
    """A running GitHub API emulator for ``acme/metaboost`` over a fresh bare repository."""
    emulator = GitHubEmulator(make_repos(tmp_path / "github"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
async def github_client(
    github_emulator: GitHubEmulator,
) -> AsyncIterator[GitHubClient]:
    """A GitHubClient for ``github_emulator``; ``client.policy.sleep.waits`` lists its waits."""
    client, _ = emulator_client(github_emulator)
    async with client:
        yield client
