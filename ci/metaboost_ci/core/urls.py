"""The host and port of a URL a person typed, checked before anything is sent.

httpx takes ``http://127.0.0.1 :5103`` as the host ``127.0.0.1%20`` (and then
retries a name that can never resolve), raises its own exception for
``http://[::1``, and only the socket complains about port 99999, from inside a
task group. So the registry URL, the GitHub API URL and a Git remote URL are
checked here first, and a bad one is an input error naming what is wrong.
"""

from __future__ import annotations

import ipaddress
import re

import httpx

from .errors import InputError

# A DNS name or IPv4 address: letters (IDNA names too), digits, '.', '-', '_'.
_HOST = re.compile(r"[\w.-]+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#@]*@")


def without_userinfo(url: str) -> str:
    """``url`` without ``user:token@``, for messages (it may not even parse)."""
    return _USERINFO.sub(lambda m: m.group(1) or "", url, count=1)


def url_problem(url: str, *, needs_host: bool = True) -> str | None:
    """What is wrong with the host or port of ``url`` (which has a scheme), or None."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return "it contains a space or a control character"
    rest = _SCHEME.sub("", url, count=1)
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    problem = _authority_problem(authority, needs_host=needs_host)
    if problem is None and url.startswith(("http://", "https://")):
        try:
            httpx.URL(url)
        except httpx.InvalidURL:
            return "it is not a URL httpx can parse"
    return problem


def _authority_problem(authority: str, *, needs_host: bool) -> str | None:
    if authority.startswith("["):
        literal, bracket, port = authority[1:].partition("]")
        if not bracket:
            return "its IPv6 address has no closing ']'"
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return f"[{literal}] is not an IPv6 address"
        if port and not port.startswith(":"):
            return "only ':PORT' may follow the IPv6 address"
        return _port_problem(port[1:]) if port else None
    host, colon, port = authority.partition(":")
    if not host:
        return "it names no host" if needs_host or colon else None
    if not _HOST.fullmatch(host):
        return f"its host {host!r} is not a host name or an IP address"
    return _port_problem(port) if colon else None


def _port_problem(port: str) -> str | None:
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"its port {port!r} is not a number from 1 to 65535"
    return None


def require_usable_url(url: str, *, what: str, fix: str, needs_host: bool = True) -> str:
    """``url`` when its host and port are usable, else an input error naming the problem."""
    problem = url_problem(url, needs_host=needs_host)
    if problem is not None:
        raise InputError(f"{what} {without_userinfo(url)!r} is not usable: {problem}.", fix=fix)
    return url
