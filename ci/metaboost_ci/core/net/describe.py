"""How the network door says what happened: URLs, error bodies and failures, for people.

Every URL shown loses its userinfo and query; every body excerpt is redacted
before it is cut; a failure that trying again cannot mend (TLS, DNS) is named
with its fix. ``HttpClient`` (``http``) words its progress lines and errors with these.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..redact import redact

# A digest in a progress line: its head identifies it, the other 52 digits only make it long.
_LONG_DIGEST = re.compile(r"(sha256:[0-9a-f]{12})[0-9a-f]{52}")


def error_code_and_detail(response: httpx.Response) -> tuple[str | None, str]:
    """Pull the machine code and human detail out of a registry or GitHub error body."""
    try:
        body: Any = json.loads(response.content or b"null")
    except ValueError:
        return None, _excerpt(response.text)
    if isinstance(body, dict):
        fields = cast(dict[str, Any], body)
        errors: Any = fields.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = cast(dict[str, Any], errors[0])
            code: Any = first.get("code")
            detail: Any = first.get("message") or fields.get("message") or ""
            return (str(code) if code else None), str(detail)
        if "message" in fields:
            return None, str(fields["message"])
    return None, _excerpt(response.text)


def _excerpt(text: str) -> str:
    """The start of a non-JSON body, redacted BEFORE it is cut.

    Cutting first could keep the head of an echoed secret, which the
    whole-secret match in ``redact`` would then no longer recognise.
    """
    return redact(text)[:300].strip()


def display_url(url: str | httpx.URL) -> str:
    """The URL without userinfo or query string (queries can carry scopes, never show them)."""
    parts = urlsplit(str(url))
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def short_url(url: str | httpx.URL) -> str:
    """``display_url`` without the scheme and with digests cut short, for progress lines."""
    return _LONG_DIGEST.sub(r"\1...", display_url(url).split("://", 1)[-1])


def what_failed(exc: httpx.TransportError) -> str:
    """The exception's class and text, for an error message."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def short_problem(exc: httpx.TransportError) -> str:
    """A few words for a progress line; the full text is kept for the error."""
    if "refused" in str(exc).lower():
        return "connection refused"
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "connection lost"
    return type(exc).__name__


# OpenSSL's words for a TLS handshake answered by something that is not TLS:
# in practice a plain-HTTP server addressed as https://.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}
)


def lasting_problem(exc: httpx.TransportError, url: str | httpx.URL) -> tuple[str, str] | None:
    """(problem, fix) for a failure that trying again cannot mend: TLS, DNS. Else None.

    httpx keeps the cause (``ssl.SSLError``, ``socket.gaierror``) in the
    exception's chain; five retries of either only delay the real answer.
    """
    target = httpx.URL(str(url))
    address = f"{target.host}:{target.port}" if target.port else target.host
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            if cause.reason in _NOT_TLS:
                return (
                    f"{address} speaks plain HTTP, not HTTPS (it answered the TLS handshake "
                    "with something that is not TLS)",
                    f"Address it as http://{address} instead of https://{address}.",
                )
            return (
                f"the TLS handshake with {address} failed ({cause.reason or cause})",
                "Check the address, and that the server's certificate is valid for it.",
            )
        if isinstance(cause, socket.gaierror):
            return (
                f"the host name {target.host} does not resolve ({cause.strerror or cause})",
                "Check the host name in the address, and this machine's DNS.",
            )
        cause = cause.__cause__ or cause.__context__
    return None


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """Same scheme, host and port: where credentials for ``a`` may also go."""
    # httpx normalises the scheme's default port to None ("https://h:443" has
    # port None, like "https://h"), so the triples compare origins as they are.
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)
