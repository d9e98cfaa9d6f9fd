"""What to tell a person when GitHub refuses: the ``fix`` of an error."""

from __future__ import annotations

import httpx

from ..net.http import Hints
from .ratelimit import is_secondary_limit, primary_reset, utc_time


def github_hints(repository: str, *, has_token: bool) -> Hints:
    """A ``Hints`` function for requests about ``repository``."""

    def hints(response: httpx.Response) -> str | None:
        status = response.status_code
        if status == 401:
            if not has_token:
                return "No GitHub token was given: set GITHUB_TOKEN (or pass --github-token)."
            return (
                "The GitHub token is not valid (expired, revoked or mistyped): "
                "give a current token for this repository."
            )
        reset = primary_reset(response)
        if reset is not None:
            return f"GitHub's API rate limit resets at {utc_time(reset)}; run again after that."
        if is_secondary_limit(response):
            return "GitHub's secondary rate limit persisted; wait a few minutes and run again."
        if status == 403:
            fix = (
                f"The token may not write to {repository}: the workflow needs "
                "`permissions: contents: write` (a fine-grained token needs "
                "Contents: read and write)."
            )
            # Fine-grained actors (Actions token, Apps, fine-grained PATs) are
            # told what the endpoint needs in this header (GitHub changelog
            # 2023-08-10, "X-Accepted-GitHub-Permissions header").
            needed = response.headers.get("x-accepted-github-permissions", "").strip()
            if needed:
                fix += f" GitHub says this call needs: {needed}."
            return fix
        if status == 404:
            # GitHub answers 404, not 401 or 403, when a private repository is
            # asked for without a token or with one that cannot see it, so as
            # not to reveal that it exists (REST docs, "Troubleshooting": 404
            # for an existing resource). Name every likely cause.
            if not has_token:
                return (
                    "No GitHub token was given, and GitHub hides private repositories from "
                    "requests without one: set GITHUB_TOKEN (or pass --github-token); "
                    f"also check the repository name {repository!r}."
                )
            return (
                f"Check the repository name {repository!r}, and that the token can see it: "
                "the Actions GITHUB_TOKEN sees only its own repository; a fine-grained token "
                "must include this repository with the Contents permission; a classic token "
                "needs the repo scope for a private repository. (GitHub answers 404, not 403, "
                "for a repository the token cannot read.)"
            )
        return None

    return hints
