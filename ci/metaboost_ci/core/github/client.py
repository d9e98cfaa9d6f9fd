"""``GitHubClient``: tag refs, commits and releases over GitHub's REST API.

Built on ``GitHubTransport`` (``transport``: retries, classification,
redaction, GitHub's answers made plain). Creating a tag ref and
creating a release are POSTs that GitHub may have performed even when the
answer is lost (a 5xx, a dropped connection): those paths read the result back
and decide, rather than blindly retrying or failing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx

from ..errors import HttpStatusError, InputError, MetaboostCiError, RemoteError, TransportError
from ..net import Tries
from ..net.describe import short_url
from ..tags import TagCreate, require_commit_sha, require_tag_name
from ..together import gather
from .models import GitObject, Release, ref_name
from .transport import GitHubTransport, answer_error_codes, answer_message

# An annotated tag may point at another tag; GitHub never nests deeper in practice.
_MAX_PEEL = 8
# Pages of matching refs we follow before deciding the server is looping.
_MAX_PAGES = 200
_T = TypeVar("_T")
# Annotated tags peeled at once while listing.
_PEEL_CONCURRENCY = 8


class GitHubClient(GitHubTransport):
    """The GitHub REST calls the release flows need, for one repository."""

    async def _create(
        self,
        url: str,
        payload: dict[str, object],
        answered: Callable[[httpx.Response, bool], Awaitable[_T | None]],
        read_back: Callable[[], Awaitable[_T | None]],
    ) -> _T:
        """POST ``payload`` to create something, converging when answers are lost.

        A 201 or 422 goes to ``answered`` (with whether an earlier attempt may
        already have acted); it decides, or returns None when the outcome is
        unknown. After a 5xx, a dropped connection or such a None, ``read_back``
        looks for the thing: found decides, absent means try again within the
        retry policy. (``HttpClient`` never re-sends a POST by itself.)
        """
        tries = Tries(self.policy, self._http.announce)
        uncertain = False  # an earlier attempt may have created it
        while True:
            tries.start()
            failure: MetaboostCiError
            try:
                response = await self._request("POST", url, json_body=payload, expect=(201, 422))
            except (TransportError, HttpStatusError) as exc:
                if isinstance(exc, HttpStatusError) and exc.status < 500:
                    raise
                failure = exc
            else:
                decided = await answered(response, uncertain)
                if decided is not None:
                    return decided
                failure = self._unexpected(response)
            uncertain = True
            found = await read_back()
            if found is not None:
                return found
            status = failure.status if isinstance(failure, HttpStatusError) else None
            what = f"answered {status}" if status else "failed"
            if not await tries.again(f"POST {short_url(url)} {what} and nothing was made"):
                raise failure

    # -- tags ---------------------------------------------------------------

    async def create_tag_ref(self, tag: str, sha: str) -> TagCreate:
        """Create ``refs/tags/<tag>`` at ``sha``; EXISTS when the tag was already there.

        After an answer that leaves the outcome unknown (5xx, dropped
        connection, the transient 422 "Reference update failed") the ref is
        read back: at our commit means we made it (CREATED), at another commit
        means somebody else did (EXISTS), absent means try again.
        """
        require_tag_name(tag)
        sha = require_commit_sha(sha)
        ours = GitObject(sha, "commit")

        async def answered(response: httpx.Response, uncertain: bool) -> TagCreate | None:
            if response.status_code == 201:
                return TagCreate.CREATED
            message = answer_message(response).lower()
            if "already exists" in message:
                # After a lost answer, "already exists" at our commit is our own create.
                if uncertain and await self._ref_object(tag) == ours:
                    return TagCreate.CREATED
                return TagCreate.EXISTS
            if "object does not exist" in message:
                raise InputError(
                    f"GitHub repository {self.repository} has no commit {sha}, so tag "
                    f"{tag} cannot point at it.",
                    fix="Push the commit first (tags can only name commits GitHub has).",
                )
            if "reference update failed" in message:
                return None  # transient: read back, then maybe try again
            raise self._unexpected(response)

        async def read_back() -> TagCreate | None:
            current = await self._ref_object(tag)
            if current is None:
                return None
            return TagCreate.CREATED if current == ours else TagCreate.EXISTS

        payload: dict[str, object] = {"ref": f"refs/tags/{tag}", "sha": sha}
        return await self._create(f"{self._repo_url}/git/refs", payload, answered, read_back)

    async def get_tag_commit(self, tag: str) -> str | None:
        """The commit ``tag`` names (annotated tags followed), or None when absent."""
        target = await self._ref_object(tag)
        if target is None:
            # GitHub's 404 also means "no such repository, or not for you": make
            # sure it is the tag that is missing before saying so.
            await self._require_repository()
            return None
        return await self._peel(target)

    async def list_tags(self, prefix: str) -> dict[str, str]:
        """Tags whose name starts with ``prefix``, mapped to their commits."""
        wanted = f"refs/tags/{prefix}"
        url: str | None = f"{self._repo_url}/git/matching-refs/tags/{quote(prefix, safe='/')}"
        targets: dict[str, GitObject] = {}
        pages = 0
        while url is not None:
            pages += 1
            if pages > _MAX_PAGES:
                raise RemoteError(
                    f"GitHub kept sending pages of tags past {_MAX_PAGES}; giving up."
                )
            response = await self._request("GET", url)
            body: Any = response.json()
            if not isinstance(body, list):
                raise RemoteError("GitHub sent matching refs that are not a JSON array.")
            for item in cast(list[Any], body):
                name = ref_name(item)
                if name.startswith(wanted):  # the server's match is by prefix; be sure
                    targets[name.removeprefix("refs/tags/")] = GitObject.from_json(item, "ref")
            url = self._next_page(response)
        return await self._peel_all(targets)

    async def commit_exists(self, sha: str) -> bool:
        """True when the repository has commit ``sha``."""
        sha = require_commit_sha(sha)
        response = await self._request(
            "GET", f"{self._repo_url}/git/commits/{sha}", expect=(200, 404, 422)
        )
        if response.status_code == 200:
            return True
        # A 404 is also what a wrong repository name or an unseeing token gets:
        # make sure it is the commit that is missing, not the repository.
        await self._require_repository()
        return False

    # -- releases -----------------------------------------------------------

    async def get_release(self, tag: str) -> Release | None:
        """The published release for ``tag``, or None (drafts are not found by tag)."""
        require_tag_name(tag)
        response = await self._request(
            "GET", f"{self._repo_url}/releases/tags/{quote(tag, safe='')}", expect=(200, 404)
        )
        if response.status_code == 404:
            await self._require_repository()  # the release is missing, not the repository
            return None
        return Release.from_json(response.json())

    async def get_latest_release(self) -> Release | None:
        """The release GitHub marks "latest", or None when there is none."""
        response = await self._request(
            "GET", f"{self._repo_url}/releases/latest", expect=(200, 404)
        )
        if response.status_code == 404:
            await self._require_repository()  # no release, rather than no repository
            return None
        return Release.from_json(response.json())

    async def create_release(
        self,
        *,
        tag: str,
        name: str,
        body: str,
        prerelease: bool,
        make_latest: bool | None = None,
        tag_verified: bool = False,
    ) -> Release:
        """Publish a release for the existing tag ``tag``; an existing release is returned.

        The tag must exist already: GitHub would otherwise create it at the
        default branch's head, which is never the commit we mean. It is read
        first, unless the caller has just created or read it (``tag_verified``).
        """
        if not tag_verified and await self.get_tag_commit(tag) is None:
            raise InputError(
                f"Tag {tag} does not exist in {self.repository}, so no release can be made for it.",
                fix="Create the tag first (reserve or promote does), then the release.",
            )
        payload: dict[str, object] = {
            "tag_name": tag,
            "name": name,
            "body": body,
            "prerelease": prerelease,
            "draft": False,
        }
        if make_latest is not None:
            payload["make_latest"] = "true" if make_latest else "false"

        async def answered(response: httpx.Response, uncertain: bool) -> Release:
            if response.status_code == 201:
                return Release.from_json(response.json())
            if "already_exists" not in answer_error_codes(response):
                raise self._unexpected(response)
            existing = await self.get_release(tag)
            if existing is None:
                raise RemoteError(
                    f"GitHub says a release for {tag} exists in {self.repository}, "
                    "but no published one is found: it is probably a draft.",
                    fix="Publish or delete the draft release for this tag, then run again.",
                )
            return existing

        async def read_back() -> Release | None:
            # The release may have been made before the answer was lost.
            return await self.get_release(tag)

        return await self._create(f"{self._repo_url}/releases", payload, answered, read_back)

    async def update_release(
        self,
        release_id: int,
        *,
        body: str | None = None,
        name: str | None = None,
        prerelease: bool | None = None,
        make_latest: bool | None = None,
    ) -> Release:
        """Change the given fields of release ``release_id``; the others stay."""
        payload: dict[str, object] = {}
        if body is not None:
            payload["body"] = body
        if name is not None:
            payload["name"] = name
        if prerelease is not None:
            payload["prerelease"] = prerelease
        if make_latest is not None:
            payload["make_latest"] = "true" if make_latest else "false"
        # Setting fields to given values is idempotent, so a lost answer may be retried.
        response = await self._request(
            "PATCH",
            f"{self._repo_url}/releases/{int(release_id)}",
            json_body=payload,
            idempotent=True,
        )
        return Release.from_json(response.json())

    # -- helpers ------------------------------------------------------------

    async def _ref_object(self, tag: str) -> GitObject | None:
        """What ``refs/tags/<tag>`` points at, unpeeled, or None when absent."""
        require_tag_name(tag)
        response = await self._request(
            "GET", f"{self._repo_url}/git/ref/tags/{quote(tag, safe='/')}", expect=(200, 404)
        )
        if response.status_code == 404:
            return None
        body: Any = response.json()
        if isinstance(body, list):
            # Old API versions answered a prefix match with an array.
            wanted = f"refs/tags/{tag}"
            exact = [i for i in cast(list[Any], body) if ref_name(i) == wanted]
            if not exact:
                return None
            body = exact[0]
        return GitObject.from_json(body, "ref")

    async def _peel(self, target: GitObject) -> str:
        """Follow annotated tags to the object they finally name (a commit)."""
        for _ in range(_MAX_PEEL):
            if target.type != "tag":
                return target.sha
            response = await self._request("GET", f"{self._repo_url}/git/tags/{target.sha}")
            target = GitObject.from_json(response.json(), "tag")
        raise RemoteError(f"Tag object {target.sha} nests more than {_MAX_PEEL} tags deep.")

    async def _peel_all(self, targets: dict[str, GitObject]) -> dict[str, str]:
        commits = {name: t.sha for name, t in targets.items() if t.type != "tag"}
        annotated = {name: t for name, t in targets.items() if t.type == "tag"}
        if not annotated:
            return commits
        names = list(annotated)

        def peel(name: str) -> Callable[[], Awaitable[str]]:
            return lambda: self._peel(annotated[name])

        peeled = await gather(
            [peel(name) for name in names], MetaboostCiError, limit=_PEEL_CONCURRENCY
        )
        commits.update(zip(names, peeled, strict=True))
        return commits
