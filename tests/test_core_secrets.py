"""Secrets that come back to us: pasted into a URL, echoed by a server.

The registry side is covered against a real registry in test_registry_secrets;
these are the shapes a real server here never produces: a token in the
registry URL a person typed, and a GitHub that quotes the token back in an
error body (JSON or an HTML page) or in a connection error. A
``MockTransport`` plays that server: the subject is our text, not the wire.
"""

from __future__ import annotations

import io
import logging
import traceback

import httpx
import pytest

from metaboost_ci.core.errors import InputError, MetaboostCiError
from metaboost_ci.core.github import GitHubClient
from metaboost_ci.core.gitstore import register_remote_credentials, safe_remote
from metaboost_ci.core.net import RetryPolicy
from metaboost_ci.core.progress import StderrProgress
from metaboost_ci.core.redact import redact, register_environment_secrets, register_secret
from metaboost_ci.core.registry import parse_registry_url


async def _no_sleep(seconds: float) -> None:
    pass


def all_text(exc: BaseException) -> str:
    return "\n".join(
        [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    )


@pytest.mark.parametrize(
    "given",
    [
        "ci-bot:regtok-5d1e8a77@ghcr.io",  # no scheme: redact's URL shape does not apply
        "regtok-5d1e8a77@ghcr.io",  # the token alone in the user part
        "https://regtok-5d1e8a77@ghcr.io",
        "https://ci-bot:regtok-5d1e8a77@ghcr.io/owner",
    ],
)
def test_a_token_pasted_into_the_registry_url_is_not_repeated(given: str) -> None:
    with pytest.raises(InputError, match="contains credentials") as caught:
        parse_registry_url(given)
    text = all_text(caught.value)
    assert "regtok-5d1e8a77" not in text
    assert "ghcr.io" in text  # still says which registry
    # Registered: it is masked in anything printed later, too.
    assert "regtok-5d1e8a77" not in str(MetaboostCiError("seen regtok-5d1e8a77"))


def echoing_github(token: str, status: int, *, html: bool) -> httpx.MockTransport:
    """A GitHub that quotes the Authorization header (and the bare token) back."""

    def handle(request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization", "")
        said = f"credentials {header!r} (token {token}) refused"
        if html:
            # Long enough that the token sits where an excerpt would cut it.
            page = "<html><body>" + "." * 250 + said + "</body></html>"
            return httpx.Response(status, text=page, headers={"content-type": "text/html"})
        return httpx.Response(status, json={"message": said, "documentation_url": "x"})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize("status", [401, 403, 422, 500])
@pytest.mark.parametrize("html", [False, True])
async def test_a_github_token_echoed_in_an_error_body_never_reaches_the_error(
    status: int, html: bool, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    token = "ghp_EchoedBack" + "x9" * 12
    caplog.set_level(logging.DEBUG)
    client = GitHubClient(
        "acme/metaboost",
        token=token,
        api_url="https://api.github.test",
        policy=RetryPolicy(sleep=_no_sleep, attempts=2),
        transport=echoing_github(token, status, html=html),
    )
    async with client:
        with pytest.raises(MetaboostCiError) as caught:
            await client.get_release("1.0.0")
    out, err = capfd.readouterr()
    text = "\n".join([all_text(caught.value), caplog.text, out, err])
    assert token not in text
    assert token[:12] not in text  # not even a cut-off head of it
    assert "***" in str(caught.value)  # the echo did reach the message, masked


async def test_a_github_token_in_a_connection_error_is_masked() -> None:
    token = "ghp_InTransport" + "q7" * 12

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"proxy refused {request.headers['authorization']}")

    client = GitHubClient(
        "acme/metaboost",
        token=token,
        api_url="https://api.github.test",
        policy=RetryPolicy(sleep=_no_sleep, attempts=2),
        transport=httpx.MockTransport(refuse),
    )
    async with client:
        with pytest.raises(MetaboostCiError) as caught:
            await client.get_tag_commit("1.0.0")
    assert token not in all_text(caught.value)
    assert "proxy refused" in str(caught.value)


@pytest.mark.parametrize(
    "next_link",
    [
        "https://elsewhere.test/repos/acme/metaboost/git/matching-refs/tags/1.?page=2",
        "http://api.github.test/repos/acme/metaboost/git/matching-refs/tags/1.?page=2",
        "https://api.github.test:8443/repos/acme/metaboost/git/matching-refs/tags/1.?page=2",
    ],
)
async def test_a_next_page_on_another_origin_gets_no_token(next_link: str) -> None:
    token = "ghp_NotForOthers" + "k3" * 12
    seen: list[httpx.URL] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=[], headers={"link": f'<{next_link}>; rel="next"'})

    client = GitHubClient(
        "acme/metaboost",
        token=token,
        api_url="https://api.github.test",
        policy=RetryPolicy(sleep=_no_sleep),
        transport=httpx.MockTransport(handle),
    )
    async with client:
        with pytest.raises(MetaboostCiError, match="another origin"):
            await client.list_tags("1.")
    assert len(seen) == 1  # the first page only; the link was not followed


def test_every_progress_line_is_redacted_whoever_wrote_it() -> None:
    token = "ghp_InProgress" + "p5" * 12
    register_secret(token)
    stream = io.StringIO()
    StderrProgress(stream).step(f"pushing with {token}")
    assert token not in stream.getvalue()
    assert "pushing with ***" in stream.getvalue()


@pytest.mark.parametrize(
    ("remote", "shown"),
    [
        ("ghp_ScpUser0001@host:r.git", "host:r.git"),
        ("ci:ghp_ScpPass0001@[::1]:acme/r.git", "[::1]:acme/r.git"),
        ("git@github.com:acme/metaboost.git", "github.com:acme/metaboost.git"),
        ("./with:colon/r.git", "./with:colon/r.git"),
        ("origin", "origin"),
    ],
)
def test_the_user_part_of_an_scp_like_remote_is_a_secret(remote: str, shown: str) -> None:
    assert safe_remote(remote) == shown
    register_remote_credentials(remote)
    for secret in ("ghp_ScpUser0001", "ghp_ScpPass0001"):
        if secret in remote:
            assert secret not in redact(f"git said: {remote}")
    assert redact("git@github.com:acme/metaboost.git") == "git@github.com:acme/metaboost.git"


def test_values_of_secret_looking_variables_are_masked_short_ones_are_not() -> None:
    register_environment_secrets(
        {
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "idtok-8c1f0e5d",
            "DEPLOY_KEY": "dk-77aa90b1c2",
            "FEATURE_KEY": "enabled",  # shorter than a secret
            "HOME": "/home/runner/work",  # not a secret's name
        }
    )
    said = "idtok-8c1f0e5d dk-77aa90b1c2 enabled /home/runner/work"
    assert redact(said) == "*** *** enabled /home/runner/work"
