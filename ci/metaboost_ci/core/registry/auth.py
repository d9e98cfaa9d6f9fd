"""Registry authentication: challenges, the Bearer token exchange, a token cache.

The Docker/OCI flow: a request answered 401 carries ``WWW-Authenticate``. A
``Basic`` challenge wants the credentials on every request; a ``Bearer``
challenge names a token endpoint (realm) where we exchange our credentials, or
nothing for anonymous pulls, for a short-lived token scoped to repositories and
actions. After the first 401 on a host we remember its challenge, so every later
request authenticates up front and costs no extra round trip.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import httpx

from ..net import HttpClient
from ..redact import register_basic, register_secret
from .errors import RegistryProtocolError
from .profile import PROFILE

# The Docker token spec: "expires_in" is optional and "when omitted, this
# defaults to 60 seconds". A token is never cached for longer than announced.
DEFAULT_TOKEN_SECONDS = 60.0
# Tokens are refreshed this many seconds before the expiry the server announced,
# so a token never dies between our check and the registry's; at most a quarter
# of a short token's life, so a token that lives a few seconds (against the
# spec's 60 s minimum) still serves the burst of requests it was fetched for.
_EXPIRY_MARGIN = 10.0


@dataclass(frozen=True)
class RegistryCredentials:
    """Username and password (or, on a registry that ignores the name, any name and a token)."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        # Registered the moment they exist, so no later message can leak them.
        register_basic(self.username, self.password)

    def basic_header(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: scheme and parameters."""

    scheme: str  # lowercased: "bearer", "basic", ...
    params: Mapping[str, str] = field(default_factory=dict[str, str])

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


# auth-param: token "=" ( token / quoted-string ), RFC 9110 section 11.2.
_PARAM = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*')
_SCHEME = re.compile(r"\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)(?=\s|,|$)")
_TOKEN68 = re.compile(r"\s*[A-Za-z0-9._~+/-]+=*\s*(?=,|$)")


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """Parse every challenge in one or more ``WWW-Authenticate`` header values.

    Handles several challenges in one value (``Basic realm="a", Bearer realm="b"``)
    and commas inside quoted values (``scope="repository:x:pull,push"``).
    """
    challenges: list[Challenge] = []
    for header in headers:
        pos = 0
        while pos < len(header):
            if header[pos] in " ,":
                pos += 1
                continue
            scheme = _SCHEME.match(header, pos)
            if scheme is None:
                break  # garbage: keep what we have
            pos = scheme.end()
            params: dict[str, str] = {}
            token68 = _TOKEN68.match(header, pos)
            if token68 and not _PARAM.match(header, pos):
                pos = token68.end()
            while pos < len(header):
                param = _PARAM.match(header, pos)
                # A bare token followed by a space (not "=") starts the next challenge.
                if param is None:
                    break
                value = param.group(2)
                if value.startswith('"'):
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                params[param.group(1).lower()] = value
                pos = param.end()
                if pos < len(header) and header[pos] == ",":
                    pos += 1
            challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def pick_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    """The challenge we answer: Bearer (with a realm) over Basic; None when neither."""
    usable = [c for c in challenges if c.scheme == "bearer" and c.realm] + [
        c for c in challenges if c.scheme == "basic"
    ]
    return usable[0] if usable else None


# Scopes as {repository: {actions}}: "repository:a/b:pull,push" -> {"a/b": {"pull","push"}}.
Scopes = Mapping[str, frozenset[str]]


def repository_scope(name: str, *, push: bool = False) -> dict[str, frozenset[str]]:
    return {name: frozenset({"pull", "push"} if push else {"pull"})}


def scope_strings(scopes: Scopes) -> list[str]:
    return [
        f"repository:{name}:{','.join(sorted(actions))}" for name, actions in sorted(scopes.items())
    ]


def _covers(granted: Scopes, wanted: Scopes) -> bool:
    return all(actions <= granted.get(name, frozenset()) for name, actions in wanted.items())


@dataclass(frozen=True)
class Authorization:
    """An ``Authorization`` header value and how we got it (for the retry rule)."""

    header: str
    scheme: str  # "basic" or "bearer"
    cached: bool  # a bearer token taken from the cache, not just exchanged


@dataclass
class _Token:
    value: str
    scopes: Scopes
    expires_at: float  # on the Authenticator's clock


class Authenticator:
    """Answers a registry's challenges for one registry origin."""

    def __init__(
        self,
        http: HttpClient,
        *,
        registry_url: httpx.URL,
        credentials: RegistryCredentials | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        # What token lifetimes are measured with (tests pass a fake clock).
        self._clock = clock
        self._registry_url = registry_url
        self._credentials = credentials
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, str], list[_Token]] = {}
        self._lock = anyio.Lock()
        # The registry answered a request that carried no credentials: it
        # wants none (a local anonymous registry), so there is nothing to prepare.
        self.open_without_auth = False
        # Token exchanges made (tests and benchmarks read it).
        self.exchanges = 0

    @property
    def challenge(self) -> Challenge | None:
        """The challenge remembered for the registry (None until its first 401)."""
        return self._challenge

    async def authorization(self, scopes: Scopes) -> Authorization | None:
        """The header to send up front, or None (no challenge seen yet, or anonymous Basic)."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if self._credentials is None:
                return None
            return Authorization(self._credentials.basic_header(), "basic", cached=False)
        return await self._bearer(challenge, scopes)

    def learn(self, response: httpx.Response) -> None:
        """Remember the challenge of a 401 answered to a probe (``GET /v2/``)."""
        challenge = pick_challenge(parse_challenges(response.headers.get_list("www-authenticate")))
        if challenge is not None:
            self._challenge = challenge

    async def after_unauthorized(
        self, response: httpx.Response, sent: Authorization | None, scopes: Scopes
    ) -> Authorization | None:
        """What to send after a 401, or None when trying again cannot help.

        The rule: one exchange after a 401 to an unauthenticated request, and one
        re-exchange when the token that failed came from the cache (it may have
        expired or been revoked). A token exchanged just now, or Basic
        credentials, that still get 401 mean the credentials are wrong.
        """
        challenge = pick_challenge(parse_challenges(response.headers.get_list("www-authenticate")))
        if challenge is None:
            return None
        changed = self._challenge is None or (
            (challenge.scheme, challenge.realm, challenge.service)
            != (self._challenge.scheme, self._challenge.realm, self._challenge.service)
        )
        self._challenge = challenge
        if sent is None or changed:
            return await self.authorization(scopes)
        if sent.scheme == "bearer" and sent.cached:
            self._forget(challenge, sent.header)
            return await self.authorization(scopes)
        return None

    def _forget(self, challenge: Challenge, header: str) -> None:
        key = _token_key(challenge)
        self._tokens[key] = [t for t in self._tokens.get(key, []) if f"Bearer {t.value}" != header]

    def _cached(self, key: tuple[str, str], scopes: Scopes) -> _Token | None:
        now = self._clock()
        # Expired tokens are dropped here, so a long run does not hoard them.
        live = [t for t in self._tokens.get(key, []) if t.expires_at > now]
        self._tokens[key] = live
        return next((t for t in live if _covers(t.scopes, scopes)), None)

    async def _bearer(self, challenge: Challenge, scopes: Scopes) -> Authorization:
        key = _token_key(challenge)
        token = self._cached(key, scopes)
        if token is not None:
            return Authorization(f"Bearer {token.value}", "bearer", cached=True)
        # One exchange at a time: concurrent requests for the same scope then
        # find the token the first one fetched instead of exchanging again.
        async with self._lock:
            token = self._cached(key, scopes)
            if token is not None:
                return Authorization(f"Bearer {token.value}", "bearer", cached=True)
            token = await self._exchange(challenge, scopes)
            self._tokens.setdefault(key, []).append(token)
        return Authorization(f"Bearer {token.value}", "bearer", cached=False)

    async def _exchange(self, challenge: Challenge, scopes: Scopes) -> _Token:
        realm = httpx.URL(challenge.realm or "")
        if realm.scheme not in ("http", "https"):
            raise RegistryProtocolError(
                f"The registry's token endpoint {challenge.realm!r} is not an http(s) URL.",
                fix="Check the registry URL; the registry's auth configuration is broken.",
            )
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params += [("scope", s) for s in scope_strings(scopes)]
        headers: dict[str, str] = {}
        if self._credentials is not None:
            # Never send a password in clear text unless the registry itself
            # was given as http:// (a local registry on loopback).
            if realm.scheme != "https" and self._registry_url.scheme == "https":
                raise RegistryProtocolError(
                    f"The registry's token endpoint {challenge.realm!r} is plain http; "
                    "refusing to send credentials over it.",
                    fix="Use the registry over https with a https token endpoint.",
                )
            headers["authorization"] = self._credentials.basic_header()
        self.exchanges += 1
        started = self._clock()
        response = await self._http.request(
            "GET", realm.copy_merge_params(params), headers=headers, expect=(200,)
        )
        return _parse_token(response, scopes, started)


def _token_key(challenge: Challenge) -> tuple[str, str]:
    """Tokens are cached per token endpoint and service."""
    return (challenge.realm or "", challenge.service or "")


def _parse_token(response: httpx.Response, scopes: Scopes, started: float) -> _Token:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    fields = cast(dict[str, Any], body) if isinstance(body, dict) else {}
    # The Docker token spec says "token"; OAuth2-style servers send "access_token".
    value = fields.get("token") or fields.get("access_token")
    if not isinstance(value, str) or not value:
        raise RegistryProtocolError(
            "The registry's token endpoint answered without a token.",
            fix="Check the registry's auth configuration and the credentials' scopes.",
        )
    register_secret(value)
    return _Token(value, dict(scopes), started + _usable_seconds(fields.get("expires_in")))


def _usable_seconds(expires_in: object) -> float:
    """How long after the exchange began a token may be sent: its life less a margin.

    An absent or unusable ``expires_in`` means the spec's default of 60 s
    (caching such a token forever would send it long after it died).
    """
    lifetime = DEFAULT_TOKEN_SECONDS
    # bool is an int subclass; ``"expires_in": true`` is not a lifetime.
    if (
        isinstance(expires_in, int | float)
        and not isinstance(expires_in, bool)
        and 0 < expires_in < float("inf")
    ):
        lifetime = float(expires_in)
    return lifetime - min(_EXPIRY_MARGIN, lifetime / 4)


def registry_hints(response: httpx.Response) -> str | None:
    """Guidance for a 401 or 403: the profile's own on its registry, the credential
    variables on any other."""
    status = response.status_code
    if status not in (401, 403):
        return None
    request = response.request
    if request.url.host != PROFILE.host:
        sent = "authorization" in request.headers
        # docker-registry answers a token without the scope with 401, not 403.
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        if sent and any(c.params.get("error") == "insufficient_scope" for c in challenges):
            status = 403
        return _other_registry_hint(status, request.url.netloc.decode(), sent)
    return PROFILE.unauthorized_hint if status == 401 else PROFILE.forbidden_hint


def _other_registry_hint(status: int, host: str, sent_credentials: bool) -> str:
    variables = PROFILE.credential_variables()
    if status == 403:
        return (
            f"{host} accepted the credentials but does not let that user do this: give it pull "
            f"(and, to write, push) rights on these repositories in {host}'s configuration, "
            f"or set {variables} to other credentials."
        )
    if not sent_credentials:
        return (
            f"{host} wants credentials and none were sent: set {variables} to a user name "
            "and a password or token it accepts."
        )
    return (
        f"{host} did not accept the credentials: check that {variables} hold a user name "
        f"and a password or token {host} accepts."
    )
