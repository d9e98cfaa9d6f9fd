"""``RegistryTransport``: how every registry request is sent.

Every request goes through ``core.net.HttpClient`` (retries, classification,
redaction, body limits, deadlines); this layer adds the registry's own rules:
authentication (see ``auth``: anonymous, Basic, Bearer token exchange) and
redirects followed by hand so credentials never leave the registry's host.
``RegistryClient`` (``client``) builds the distribution API on it, the way
go-containerregistry layers ``remote`` on ``transport``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import httpx

from ..errors import InputError
from ..net import HttpClient, RetryPolicy
from ..net.bounded import DEFAULT_MAX_BODY
from ..net.describe import error_code_and_detail, same_origin
from ..progress import Progress
from ..redact import register_secret
from .auth import Authenticator, RegistryCredentials, Scopes, registry_hints
from .errors import RegistryProtocolError
from .media import check_name

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
# Three tries at most per request: as sent, after a first token exchange, after
# one re-exchange of a cached token (see Authenticator.after_unauthorized).
_MAX_AUTH_ROUNDS = 3


def parse_registry_url(url: str) -> httpx.URL:
    """``HOST`` -> ``https://HOST``; ``http://127.0.0.1:5000`` stays http."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parsed = httpx.URL(text)
    shown = url
    if parsed.userinfo:
        # A token pasted into the URL is a credential: register it, and show
        # the URL without it (``redact``'s URL shape needs a scheme and a
        # password, which "TOKEN@registry.example" has neither of).
        # With no password, the user part is the token ("TOKEN@registry.example").
        register_secret(parsed.password or parsed.username)
        shown = str(parsed.copy_with(username=None, password=None))
    problem = None
    if parsed.scheme not in ("http", "https"):
        problem = f"its scheme {parsed.scheme!r} is not http or https"
    elif not parsed.host:
        problem = "it names no host"
    elif parsed.userinfo:
        problem = "it contains credentials"
    elif parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        problem = "it has a path or query (the image name goes elsewhere)"
    if problem:
        raise InputError(
            f"Registry URL {shown!r} is not usable: {problem}.",
            fix="Give --registry as host[:port] or https://host[:port] "
            "(http://host:port for a local registry); credentials go in the token settings.",
        )
    return parsed.copy_with(path="/", query=None, fragment=None)


class RegistryTransport:
    """Authenticated, redirect-safe requests to one registry."""

    def __init__(
        self,
        url: str,
        *,
        credentials: RegistryCredentials | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.url = parse_registry_url(url)
        self.host = self.url.netloc.decode()
        self._http = HttpClient(
            service=f"registry {self.host}",
            policy=policy,
            hints=_hints,
            transport=transport,
            headers={"user-agent": "metaboost-ci"},
            progress=progress,
        )
        # Token lifetimes are measured on the retry policy's clock: one time
        # source to fake in tests.
        self._auth = Authenticator(
            self._http,
            registry_url=self.url,
            credentials=credentials,
            clock=self._http.policy.clock,
        )

    # ----------------------------------------------------------------- basics

    @property
    def requests_sent(self) -> int:
        """HTTP requests put on the wire so far: retries and token exchanges included."""
        return self._http.requests_sent

    @property
    def token_exchanges(self) -> int:
        """Token exchanges made so far (each is also counted in ``requests_sent``)."""
        return self._auth.exchanges

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RegistryTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _endpoint(self, path: str, params: Mapping[str, str] | None = None) -> httpx.URL:
        url = self.url.copy_with(path=path)
        return url.copy_merge_params(dict(params)) if params else url

    async def authorize(self, *, pull: Iterable[str] = (), push: Iterable[str] = ()) -> None:
        """Get one token covering a sequence of operations, before they start.

        Optional, it only saves round trips: without it each operation asks for
        the narrowest token it needs (pull to read, pull,push to write), so a
        read then a write costs two exchanges. Costs one ``GET /v2/`` when the
        registry's challenge is not known yet, and nothing when the registry
        wants no token (anonymous or Basic).
        """
        scopes: dict[str, frozenset[str]] = {}
        for name in pull:
            scopes[check_name(name)] = frozenset({"pull"}) | scopes.get(name, frozenset())
        for name in push:
            scopes[check_name(name)] = frozenset({"pull", "push"})
        if not scopes:
            return
        if self._auth.challenge is None:
            if self._auth.open_without_auth:
                return  # requests succeed without credentials here
            probe = await self._http.request("GET", self._endpoint("/v2/"), expect=(200, 401))
            if probe.status_code == 200:
                self._auth.open_without_auth = True
                return
            self._auth.learn(probe)
        await self._auth.authorization(scopes)

    # --------------------------------------------------------------- transport

    async def send(
        self,
        method: str,
        url: httpx.URL,
        *,
        scopes: Scopes,
        expect: Collection[int] = (200,),
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        idempotent: bool | None = None,
        follow_redirects: bool = False,
        max_bytes: int = DEFAULT_MAX_BODY,
    ) -> httpx.Response:
        """Send with authentication; follow redirects ourselves when asked.

        ``max_bytes``: the longest answer read (see ``HttpClient.request``).

        httpx would carry the Authorization header along a redirect to another
        host; hosted registries redirect blob reads to a storage host, which must never see
        our token. So each hop is sent by us: with credentials on the
        registry's origin, without them anywhere else.
        """
        target = url
        accept: set[int] = set(expect) | (set(_REDIRECTS) if follow_redirects else set[int]())
        for _ in range(_MAX_REDIRECTS + 1):
            if same_origin(target, self.url):
                response = await self._authenticated(
                    method, target, scopes, accept, headers, content, idempotent, max_bytes
                )
            else:
                response = await self._http.request(
                    method,
                    target,
                    headers=headers,
                    content=content,
                    expect=accept,
                    idempotent=idempotent,
                    max_bytes=max_bytes,
                )
            if response.status_code in expect or response.status_code not in _REDIRECTS:
                return response
            location = response.headers.get("location")
            next_target = target.join(location) if location else None
            if next_target is None or next_target.scheme not in ("http", "https"):
                raise RegistryProtocolError(
                    f"registry {self.host}: {method} answered {response.status_code} "
                    "without a usable Location.",
                    fix="The registry or a proxy is misconfigured; check the registry URL.",
                )
            target = next_target
        raise RegistryProtocolError(
            f"registry {self.host}: {method} was redirected more than {_MAX_REDIRECTS} times.",
            fix="The registry or a proxy is misconfigured; check the registry URL.",
        )

    async def _authenticated(
        self,
        method: str,
        url: httpx.URL,
        scopes: Scopes,
        expect: Collection[int],
        headers: Mapping[str, str] | None,
        content: bytes | None,
        idempotent: bool | None,
        max_bytes: int,
    ) -> httpx.Response:
        auth = await self._auth.authorization(scopes)
        rounds = 0
        while True:
            rounds += 1
            send = dict(headers or {})
            if auth is not None:
                send["authorization"] = auth.header
            response = await self._http.request(
                method,
                url,
                headers=send,
                content=content,
                expect={*expect, 401},
                idempotent=idempotent,
                max_bytes=max_bytes,
            )
            if response.status_code != 401 or 401 in expect:
                if auth is None and response.status_code < 400:
                    self._auth.open_without_auth = True
                return response
            auth = await self._auth.after_unauthorized(response, auth, scopes)
            if auth is None or rounds >= _MAX_AUTH_ROUNDS:
                raise self._http.error_for(method, url, response)


def _hints(response: httpx.Response) -> str | None:
    code, _ = error_code_and_detail(response)
    if code == "MANIFEST_INVALID":
        return (
            "Send the manifest's exact bytes with Content-Type equal to its mediaType, "
            "after every blob and child manifest it references is in the repository."
        )
    if code in ("MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN") and response.status_code == 400:
        return "Push every blob and child manifest the manifest references first."
    if code == "NAME_UNKNOWN":
        return (
            "The repository does not exist yet (nothing was ever pushed to it), "
            "or the token cannot see it."
        )
    return registry_hints(response)
