"""``registry.links``: ``Link`` headers (RFC 8288) as registries page tag lists, as a table.

The next page decides which tags a reservation and a promotion see, so every
shape a registry or proxy may send is here, with the relation it must yield.
"""

from __future__ import annotations

import httpx
import pytest

from metaboost_ci.core.net.describe import same_origin
from metaboost_ci.core.registry import RegistryProtocolError
from metaboost_ci.core.registry.links import next_page, parse_link_header

NEXT = "/v2/o/r/tags/list?last=b&n=2"

LINKS = [
    pytest.param(f'<{NEXT}>; rel="next"', {"next": NEXT}, id="ghcr"),
    pytest.param('</a>, </b>; rel="next"', {"next": "/b"}, id="rel-less-entry-first"),
    pytest.param('</a>; title="t", </b>; rel="next"', {"next": "/b"}, id="rel-less-with-params"),
    pytest.param('</b>; REL="NEXT"', {"next": "/b"}, id="upper-case-rel-and-value"),
    pytest.param("</b>; Rel=Next", {"next": "/b"}, id="unquoted-mixed-case"),
    pytest.param('</b>;rel="next"', {"next": "/b"}, id="no-spaces"),
    pytest.param('</b> ; rel = "next" ', {"next": "/b"}, id="spaces-everywhere"),
    pytest.param('</b>; type="x"; rel="next"', {"next": "/b"}, id="rel-not-first"),
    pytest.param('</b>; rel="  next  "', {"next": "/b"}, id="padded-value"),
    pytest.param(
        '</b>; rel="next last"', {"next": "/b", "last": "/b"}, id="two-relations-in-one-rel"
    ),
    pytest.param('</a>; rel="next", </b>; rel="next"', {"next": "/a"}, id="the-first-next-wins"),
    pytest.param(
        '</p>; rel="prev", </n>; rel="next", </l>; rel="last"',
        {"prev": "/p", "next": "/n", "last": "/l"},
        id="three-entries",
    ),
    pytest.param(
        '</b>; title="a, b; c"; rel="next"', {"next": "/b"}, id="comma-and-semicolon-quoted"
    ),
    pytest.param("</b>; rel=next, </c>; rel=prev", {"next": "/b", "prev": "/c"}, id="unquoted"),
    pytest.param(
        '</a>; title="x; rel=next"; rel="prev"', {"prev": "/a"}, id="rel-inside-a-quoted-title"
    ),
    pytest.param(
        '</a>; title="see </b>; rel=next", </c>; rel=prev', {"prev": "/c"}, id="link-in-a-title"
    ),
    pytest.param('</b>; rel=""', {}, id="empty-rel"),
    pytest.param('</b>; norel="next"', {}, id="another-param-ending-in-rel"),
    pytest.param('</b>; relation="next"', {}, id="another-param-starting-with-rel"),
    pytest.param('</b>; rel="next"junk', {"next": "/b"}, id="trailing-junk-after-quote"),
    pytest.param("</b>", {}, id="no-params"),
    pytest.param('rel="next"', {}, id="no-target"),
    pytest.param("", {}, id="empty"),
]


@pytest.mark.parametrize(("header", "expected"), LINKS)
def test_link_headers(header: str, expected: dict[str, str]) -> None:
    assert parse_link_header(header) == expected


HERE = httpx.URL("https://ghcr.io/v2/o/r/tags/list?n=2")


def page(*links: str) -> httpx.Response:
    return httpx.Response(200, headers=[("link", link) for link in links], json={"tags": []})


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        pytest.param((f'<{NEXT}>; rel="next"',), f"https://ghcr.io{NEXT}", id="relative"),
        pytest.param(('</a>; rel="prev"', '</b>; rel="next"'), "https://ghcr.io/b", id="second"),
        pytest.param(
            ('</a>; rel="next"', '</b>; rel="next"'), "https://ghcr.io/a", id="first-header-wins"
        ),
        pytest.param(("<c>; rel=next",), "https://ghcr.io/v2/o/r/tags/c", id="relative-path"),
        pytest.param(
            ('<https://ghcr.io:443/x?last=z>; rel="next"',),
            "https://ghcr.io/x?last=z",
            id="default-port-spelled-out",
        ),
        pytest.param(('</a>; rel="prev"',), None, id="no-next"),
        pytest.param((), None, id="no-link-header"),
    ],
)
def test_next_page(links: tuple[str, ...], expected: str | None) -> None:
    found = next_page(page(*links), HERE)
    assert found == (None if expected is None else httpx.URL(expected))


@pytest.mark.parametrize(
    ("target", "named"),
    [
        pytest.param("https://evil.example/v2/x", "https://evil.example", id="host"),
        pytest.param("http://ghcr.io/v2/x", "http://ghcr.io", id="scheme"),
        pytest.param("https://ghcr.io:8443/v2/x", "https://ghcr.io:8443", id="port"),
        pytest.param("//evil.example/v2/x", "https://evil.example", id="scheme-relative"),
    ],
)
def test_a_next_page_elsewhere_is_refused_naming_where(target: str, named: str) -> None:
    with pytest.raises(RegistryProtocolError) as caught:
        next_page(page(f'<{target}>; rel="next"'), HERE)
    error = caught.value
    assert error.message == (
        f"The registry's tag list points its next page at another host ({named}); "
        "refusing to follow it."
    )
    assert error.fix == (
        "A registry or proxy is misconfigured, or something tampers with its answers; "
        "check the registry URL."
    )


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param("https://h/x", "https://h:443/y", True, id="default-port"),
        pytest.param("https://h/x", "https://H/y", True, id="host-case"),
        pytest.param("https://h/x", "http://h/x", False, id="scheme"),
        pytest.param("https://h/x", "https://h:444/x", False, id="port"),
        pytest.param("https://h/x", "https://g/x", False, id="host"),
    ],
)
def test_same_origin(a: str, b: str, same: bool) -> None:
    assert same_origin(httpx.URL(a), httpx.URL(b)) is same
