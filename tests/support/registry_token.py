"""A Docker token server for tests (the flow ghcr.io uses), in a thread on 127.0.0.1.

``GET /token?service=S&scope=repository:NAME:pull,push`` with Basic auth answers
``{"token": T, "access_token": T, "expires_in": N, "issued_at": ...}``; T is a
JWT signed ES256 whose ``x5c`` header carries a self-signed certificate that
docker-registry trusts through its ``rootcertbundle``. Clients must treat T as
opaque; tests may decode it with ``decode_token`` to see what was granted.

Threads, not the test's event loop: tests push images with blocking calls, and
a server on the loop would deadlock against them.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import fnmatch
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from .ports import LoopbackServer, LoopbackService

ISSUER = "metaboost-test-token-server"
SERVICE = "registry.test"
# docker-registry 2.8.2 tolerates 60 s of clock skew; an "expired" token must be older.
_REGISTRY_LEEWAY = 60


@dataclass(frozen=True)
class SigningKey:
    """An ES256 key and the self-signed certificate docker-registry trusts."""

    key: ec.EllipticCurvePrivateKey
    cert_pem: bytes
    cert_der_b64: str

    @classmethod
    def generate(cls) -> SigningKey:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "metaboost test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        # No extended key usage: Go's verifier then accepts the cert for any use.
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(
            key=key,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            cert_der_b64=base64.b64encode(der).decode(),
        )

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self.cert_der_b64]}
        signing_input = f"{_b64url(_json(header))}.{_b64url(_json(claims))}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # JWS wants the raw 64-byte r||s, not DER.
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64url(signature)}"


@dataclass(frozen=True)
class Access:
    """One grant: ``type`` (repository), ``name`` (owner/app), ``actions`` (pull, push)."""

    type: str
    name: str
    actions: tuple[str, ...]

    def claim(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


@dataclass(frozen=True)
class TokenRequest:
    """What one request to the token endpoint asked for and got."""

    method: str
    path: str
    service: str | None
    scopes: tuple[str, ...]
    # The Basic-auth username, None when the request had no credentials.
    username: str | None
    status: int
    granted: tuple[Access, ...]


@dataclass
class TokenPolicy:
    """Who gets what. Mutable: a test may change it while the server runs."""

    users: dict[str, str] = field(default_factory=dict)
    # Repositories (fnmatch patterns) anonymous callers may pull.
    public: set[str] = field(default_factory=set)
    # Per repository pattern, the most an authenticated user gets (e.g. {"pull"}
    # to emulate a token without packages: write). Unlisted: everything asked.
    limits: dict[str, frozenset[str]] = field(default_factory=dict)
    lifetime: int = 300
    # Leave "expires_in" out of the token response (the spec's default is 60 s);
    # the token itself still lives ``lifetime`` seconds at the registry.
    omit_expires_in: bool = False
    # Issue tokens that the registry already considers expired.
    expired: bool = False

    def allowed(self, username: str | None, requested: Access) -> Access:
        if requested.type != "repository":
            actions = requested.actions if username is not None else ()
        elif username is None:
            public = any(fnmatch.fnmatchcase(requested.name, p) for p in self.public)
            actions = tuple(a for a in requested.actions if a == "pull") if public else ()
        else:
            actions = requested.actions
            for pattern, limit in self.limits.items():
                if fnmatch.fnmatchcase(requested.name, pattern):
                    actions = tuple(a for a in actions if a in limit or "*" in limit)
        return Access(requested.type, requested.name, actions)


class TokenServer(LoopbackService):
    """The running server: ``url``, ``realm`` (``url + "/token"``), ``service``,
    ``issuer``, ``policy`` to change grants, ``requests`` recorded in order."""

    def __init__(self, signing_key: SigningKey, *, service: str = SERVICE) -> None:
        self.signing_key = signing_key
        self.service = service
        self.issuer = ISSUER
        self.policy = TokenPolicy()
        self._requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self.server = LoopbackServer(_make_handler(self))
        self.url = self.server.url
        self.realm = f"{self.url}/token"

    # -- configuration ----------------------------------------------------------
    def add_user(self, username: str, password: str) -> None:
        self.policy.users[username] = password

    def make_public(self, *repositories: str) -> None:
        """Anonymous callers may pull these repositories (fnmatch patterns)."""
        self.policy.public.update(repositories)

    def limit(self, repository: str, actions: Iterable[str]) -> None:
        """Authenticated users get at most ``actions`` on ``repository`` (pattern)."""
        self.policy.limits[repository] = frozenset(actions)

    def write_cert(self, path: Path) -> Path:
        path.write_bytes(self.signing_key.cert_pem)
        return path

    # -- observation ------------------------------------------------------------
    @property
    def requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # -- issuing ----------------------------------------------------------------
    def issue(self, username: str | None, granted: Iterable[Access]) -> dict[str, Any]:
        now = int(time.time())
        if self.policy.expired:
            now -= self.policy.lifetime + 2 * _REGISTRY_LEEWAY
        claims = {
            "iss": self.issuer,
            "sub": username or "",
            "aud": self.service,
            "exp": now + self.policy.lifetime,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [a.claim() for a in granted],
        }
        token = self.signing_key.sign_jwt(claims)
        issued = datetime.datetime.fromtimestamp(now, datetime.UTC)
        answer: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": self.policy.lifetime,
            "issued_at": issued.isoformat().replace("+00:00", "Z"),
        }
        if self.policy.omit_expires_in:
            del answer["expires_in"]
        return answer


def parse_scopes(values: Iterable[str]) -> list[Access]:
    """``repository:owner/app:pull,push`` (several per parameter, space separated)."""
    accesses: list[Access] = []
    for value in values:
        for scope in value.split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if not kind or not name:
                continue
            accesses.append(Access(kind, name, tuple(a for a in actions.split(",") if a)))
    return accesses


def decode_token(token: str) -> dict[str, Any]:
    """The claims of a token from this server (for assertions in tests)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _make_handler(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class TokenHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/token":
                self._send(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
                return
            query = parse_qs(parts.query)
            service = query.get("service", [None])[0]
            requested = parse_scopes(query.get("scope", []))
            scopes = tuple(query.get("scope", []))
            credentials = self._basic_credentials()
            username: str | None = None
            if credentials is not None:
                username, password = credentials
                if server.policy.users.get(username) != password:
                    server._record(  # pyright: ignore[reportPrivateUsage]
                        TokenRequest("GET", self.path, service, scopes, username, 401, ())
                    )
                    self._send(
                        401,
                        {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                        {"WWW-Authenticate": 'Basic realm="token"'},
                    )
                    return
            granted = tuple(server.policy.allowed(username, access) for access in requested)
            granted = tuple(g for g in granted if g.actions)
            server._record(  # pyright: ignore[reportPrivateUsage]
                TokenRequest("GET", self.path, service, scopes, username, 200, granted)
            )
            self._send(200, server.issue(username, granted))

        def do_POST(self) -> None:
            # The OAuth2 POST form of the flow is not emulated: GHCR clients use GET.
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self._send(405, {"errors": [{"code": "UNSUPPORTED", "message": "use GET"}]})

        def _basic_credentials(self) -> tuple[str, str] | None:
            header = self.headers.get("Authorization")
            if not header or not header.lower().startswith("basic "):
                return None
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return ("", "\0invalid")
            username, _, password = decoded.partition(":")
            return username, password

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = _json(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # Requests are recorded in ``server.requests``; keep test output clean.

    return TokenHandler


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
