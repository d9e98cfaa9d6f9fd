"""``GitHubTransport``: how every request to GitHub's REST API is sent.

Every request goes through ``HttpClient`` (retries, classification,
redaction) with GitHub's rate-limit hook and hints; this layer adds GitHub's
own rules: what is sent is redacted, a 409 "Git Repository is empty." is said
plainly, a 404 inside a repository that answered means absent, and a next
page is followed only on the same origin. ``GitHubClient`` (``client``)
builds the tag and release calls on it, as the registry's client is built
on its transport.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, Self, cast
from urllib.parse import urlsplit

import anyio
import httpx

from ..errors import ConfigError, HttpStatusError, InputError, MetaboostCiError, RemoteError
from ..net import HttpClient, RetryPolicy
from ..net.describe import display_url, same_origin
from ..progress import Progress
from ..redact import redact_data, register_secret
from .hints import github_hints
from .ratelimit import GitHubRateLimit

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
# What GitHub's Git database endpoints (refs, tag and commit objects) answer,
# with 409 Conflict, for a repository that has no commits yet. Seen from
# api.github.com for POST git/refs on a repository created with auto_init=false.
_EMPTY_REPOSITORY = "git repository is empty"


def require_repository(repository: str | None) -> str:
    """Return ``OWNER/REPO`` when well formed, else raise naming the fix."""
    if not repository or not _REPOSITORY.fullmatch(repository):
        raise ConfigError(
            f"The GitHub repository {repository!r} is not of the form OWNER/REPO.",
            fix="Pass --repository OWNER/REPO (in Actions, $GITHUB_REPOSITORY).",
        )
    return repository


def _require_api_url(api_url: str) -> str:
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"The GitHub API URL {api_url!r} is not an http(s) URL.",
            fix="Use https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise.",
        )
    return api_url.rstrip("/")


def answer_fields(response: httpx.Response) -> dict[str, Any]:
    """The JSON object GitHub answered with; empty for any other body."""
    try:
        body: Any = json.loads(response.content or b"null")
    except ValueError:
        return {}
    return cast(dict[str, Any], body) if isinstance(body, dict) else {}


def answer_message(response: httpx.Response) -> str:
    return str(answer_fields(response).get("message") or "")


def answer_error_codes(response: httpx.Response) -> set[str]:
    errors: Any = answer_fields(response).get("errors")
    if not isinstance(errors, list):
        return set()
    return {
        str(cast(dict[str, Any], e).get("code"))
        for e in cast(list[Any], errors)
        if isinstance(e, dict)
    }


class GitHubTransport:
    """Requests to GitHub's REST API about one repository."""

    def __init__(
        self,
        repository: str,
        *,
        token: str | None,
        api_url: str = DEFAULT_API_URL,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.repository = require_repository(repository)
        self.api_url = _require_api_url(api_url)
        register_secret(token)
        self.policy = policy or RetryPolicy()
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "metaboost-ci",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = HttpClient(
            service="GitHub",
            policy=self.policy,
            hints=github_hints(self.repository, has_token=bool(token)),
            rate_limit=GitHubRateLimit(self.policy),
            transport=transport,
            headers=headers,
            progress=progress,
        )
        self._repo_url = f"{self.api_url}/repos/{self.repository}"
        self._repository_checked = False
        # Concurrent reads that find nothing (promote reads tags and releases at
        # once) would each check the repository: the lock makes it one request.
        self._repository_lock = anyio.Lock()

    @property
    def requests_sent(self) -> int:
        """Requests put on the wire so far, retries included."""
        return self._http.requests_sent

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @staticmethod
    def as_sent(text: str) -> str:
        """What GitHub holds of a text field we send: redacted as every request is (below).

        A re-run compares a release body with this, not with the raw text, or
        a body that held a secret would differ on every run.
        """
        return str(redact_data(text))

    async def _request(
        self,
        method: str,
        url: str,
        *,
        expect: Collection[int] = (200,),
        json_body: object | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """``HttpClient.request``, with GitHub's 409 "Git Repository is empty." made plain.

        Every request to GitHub passes here, so this is where what we send is
        redacted: no registered secret reaches a release's body or name, or
        any other field, whatever file or input the text came from.

        A 409 is never retried (it is no transient failure): it goes straight
        to the person, saying what to do.
        """
        if json_body is not None:
            json_body = redact_data(json_body)
        response = await self._http.request(
            method, url, expect=(*expect, 409), json_body=json_body, idempotent=idempotent
        )
        if response.status_code == 409 and 409 not in expect:
            raise self._conflict(response)
        if response.is_success and (url + "/").startswith(self._repo_url + "/"):
            # The repository answered for us: a later 404 inside it means the
            # thing is absent, without asking about the repository again.
            self._repository_checked = True
        return response

    def _next_page(self, response: httpx.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        here = response.request.url
        next_url = here.join(link)
        # The whole origin, not only the host: another port or plain http on
        # the same host would also receive our token.
        if not same_origin(next_url, here):
            raise RemoteError(
                f"GitHub's next page points at another origin ({display_url(next_url)}); "
                "not following it with our token.",
                fix="Check the GitHub API URL; a proxy in between may be rewriting links.",
            )
        return str(next_url)

    async def _require_repository(self) -> None:
        """Raise the classified, hinted 404 when the repository is not there for us.

        Checked once per client: a failure raises (nothing is cached), so a
        later call asks again.
        """
        async with self._repository_lock:
            if not self._repository_checked:
                await self._request("GET", self._repo_url)
                self._repository_checked = True

    def _conflict(self, response: httpx.Response) -> MetaboostCiError:
        if _EMPTY_REPOSITORY in answer_message(response).lower():
            return InputError(
                f"GitHub repository {self.repository} has no commits yet (GitHub answers "
                '409 "Git Repository is empty."), so it has no tags and nothing in it can be '
                "tagged or released.",
                fix="Push the branch first (git push origin <branch>), or check that "
                "--repository names the repository you mean.",
            )
        return self._unexpected(response)

    def _unexpected(self, response: httpx.Response) -> HttpStatusError:
        """The error for an answer a create cannot use, worded like every other one."""
        return self._http.error_for(response.request.method, response.request.url, response)
