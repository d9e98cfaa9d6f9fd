"""``Link`` headers (RFC 8288), as registries use them to page tag lists."""

from __future__ import annotations

import re

import httpx

from ..net.describe import same_origin
from .errors import RegistryProtocolError

# <target> then ;-separated params whose quoted values may hold commas and semicolons.
_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*(?:[^;,"]|"[^"]*")+)*)')
# One param at a time, a quoted value whole: a title="x; rel=next" is no relation.
_PARAM = re.compile(r';\s*([^\s=;,"]+)\s*(?:=\s*(?:"([^"]*)"|([^\s;,"]*)))?')


def parse_link_header(value: str) -> dict[str, str]:
    """Map each relation type to its target: ``</a>; rel="next"`` -> {"next": "/a"}."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value):
        rel = next((p for p in _PARAM.finditer(match.group(2)) if p[1].lower() == "rel"), None)
        if rel is None:
            continue
        # rel can hold several space-separated types: rel="next last".
        for kind in (rel.group(2) or rel.group(3) or "").lower().split():
            links.setdefault(kind, match.group(1))
    return links


def next_page(response: httpx.Response, request_url: httpx.URL) -> httpx.URL | None:
    """The next page announced by ``Link: <...>; rel="next"``, resolved and checked.

    The target is resolved against the URL of the page that announced it and
    must stay on the registry's origin: a Link elsewhere would send our token
    (and our trust in the tag list) to another host.
    """
    next_target: str | None = None
    for value in response.headers.get_list("link"):  # pragma: no mutate (header names ignore case)
        next_target = parse_link_header(value).get("next")
        if next_target is not None:
            break
    if next_target is None:
        return None
    target = request_url.join(next_target)
    if not same_origin(target, request_url):
        raise RegistryProtocolError(
            f"The registry's tag list points its next page at another host "
            f"({target.scheme}://{target.netloc.decode()}); refusing to follow it.",
            fix="A registry or proxy is misconfigured, or something tampers with its answers; "
            "check the registry URL.",
        )
    return target
