"""Pure parts of the registry client: parsing, validation, media, hints."""

from __future__ import annotations

import json

import httpx
import pytest

from metaboost_ci.core.errors import InputError
from metaboost_ci.core.redact import redact
from metaboost_ci.core.registry import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Challenge,
    Manifest,
    RegistryCredentials,
    RegistryProtocolError,
    digest_of,
    parse_challenges,
    parse_link_header,
    parse_registry_url,
    registry_hints,
)
from metaboost_ci.core.registry.auth import pick_challenge
from metaboost_ci.core.registry.links import next_page
from metaboost_ci.core.registry.media import check_name, check_reference, verify_digest

# ------------------------------------------------------------------ challenges


def test_bearer_challenge_with_comma_inside_quoted_scope() -> None:
    header = (
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",'
        'scope="repository:owner/repo/api:pull,push"'
    )
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://ghcr.io/token",
                "service": "ghcr.io",
                "scope": "repository:owner/repo/api:pull,push",
            },
        )
    ]


def test_basic_challenge() -> None:
    (challenge,) = parse_challenges(['Basic realm="Registry Realm"'])
    assert challenge.scheme == "basic"
    assert challenge.realm == "Registry Realm"


def test_several_challenges_in_one_header_and_bearer_is_preferred() -> None:
    header = 'Basic realm="basic", Bearer realm="https://auth.example/token", service="reg"'
    challenges = parse_challenges([header])
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    picked = pick_challenge(challenges)
    assert picked is not None
    assert picked.scheme == "bearer"
    assert picked.service == "reg"


def test_challenges_from_several_headers_spacing_case_and_escapes() -> None:
    challenges = parse_challenges(
        ['BEARER   realm = "https://a/token" ,  error="insufficient_scope"', 'Basic realm="a\\"b"']
    )
    assert challenges[0] == Challenge(
        "bearer", {"realm": "https://a/token", "error": "insufficient_scope"}
    )
    assert challenges[1].realm == 'a"b'


def test_unquoted_values_and_token68() -> None:
    assert parse_challenges(["Bearer realm=https://a/token,service=reg"])[0].service == "reg"
    assert parse_challenges(["Negotiate abc123==, Basic realm=x"])[1] == Challenge(
        "basic", {"realm": "x"}
    )


def test_no_usable_challenge() -> None:
    assert pick_challenge(parse_challenges(["Negotiate"])) is None
    assert pick_challenge(parse_challenges(["Bearer service=reg"])) is None  # no realm
    assert parse_challenges([""]) == []


# ----------------------------------------------------------------------- links


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</v2/a/tags/list?last=x&n=100>; rel="next"', {"next": "/v2/a/tags/list?last=x&n=100"}),
        ("</p2>; rel=next", {"next": "/p2"}),
        ('</p1>; rel="prev", </p3>; rel="next"', {"prev": "/p1", "next": "/p3"}),
        (
            '<https://r/x>; title="a, b"; rel="next last"',
            {"next": "https://r/x", "last": "https://r/x"},
        ),
        ("</p2>", {}),
        ("", {}),
    ],
)
def test_parse_link_header(header: str, expected: dict[str, str]) -> None:
    assert parse_link_header(header) == expected


def _page(link: str | None) -> httpx.Response:
    headers = {"link": link} if link else {}
    return httpx.Response(200, headers=headers, json={"tags": []})


def test_next_page_resolves_relative_and_absolute_on_the_same_host() -> None:
    here = httpx.URL("https://ghcr.io/v2/o/r/tags/list?n=1000")
    relative = next_page(_page('</v2/o/r/tags/list?last=b&n=1000>; rel="next"'), here)
    assert relative == httpx.URL("https://ghcr.io/v2/o/r/tags/list?last=b&n=1000")
    absolute = next_page(_page('<https://ghcr.io:443/v2/o/r/tags/list?last=c>; rel="next"'), here)
    assert absolute is not None
    assert absolute.path == "/v2/o/r/tags/list"
    assert next_page(_page(None), here) is None


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/v2/o/r/tags/list", "http://ghcr.io/v2/x", "https://ghcr.io:8443/v2/x"],
)
def test_next_page_on_another_origin_is_refused(target: str) -> None:
    here = httpx.URL("https://ghcr.io/v2/o/r/tags/list?n=1000")
    with pytest.raises(RegistryProtocolError, match="another host"):
        next_page(_page(f'<{target}>; rel="next"'), here)


# ------------------------------------------------------------------ URLs, names


@pytest.mark.parametrize(
    ("given", "url", "host"),
    [
        ("ghcr.io", "https://ghcr.io/", "ghcr.io"),
        ("https://ghcr.io/", "https://ghcr.io/", "ghcr.io"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/", "127.0.0.1:5000"),
        ("localhost:5000", "https://localhost:5000/", "localhost:5000"),
    ],
)
def test_registry_url(given: str, url: str, host: str) -> None:
    parsed = parse_registry_url(given)
    assert str(parsed) == url
    assert parsed.netloc.decode() == host


@pytest.mark.parametrize(
    "given",
    [
        "ftp://ghcr.io",
        "https://user:pw@ghcr.io",
        "ghcr.io/owner/repo",
        "https://ghcr.io/?x=1",
        "https://",
    ],
)
def test_unusable_registry_url_is_an_input_error(given: str) -> None:
    with pytest.raises(InputError, match="not usable") as caught:
        parse_registry_url(given)
    assert caught.value.fix


def test_names_and_references() -> None:
    assert check_name("owner/repo/web-sidecar") == "owner/repo/web-sidecar"
    assert check_reference("1.2.0-staging.3") == "1.2.0-staging.3"
    assert check_reference("sha256:" + "a" * 64).startswith("sha256:")
    for bad in ["Owner/repo", "a//b", "-a", "a/", ""]:
        with pytest.raises(InputError, match="repository name"):
            check_name(bad)
    for bad in ["-x", ".x", "a" * 129, "a b", "sha256:abc"]:
        with pytest.raises(InputError, match="tag"):
            check_reference(bad)


def test_credentials_repr_and_redaction() -> None:
    credentials = RegistryCredentials("someone", "units-pass-5d1e")
    assert "units-pass-5d1e" not in repr(credentials)
    basic = credentials.basic_header().split()[1]
    assert redact(f"pw units-pass-5d1e basic {basic}") == "pw *** basic ***"


# ----------------------------------------------------------------------- media


def _index() -> bytes:
    child = {"mediaType": OCI_MANIFEST, "size": 10}
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    **child,
                    "digest": "sha256:" + "1" * 64,
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
                {
                    **child,
                    "digest": "sha256:" + "2" * 64,
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                },
                {
                    **child,
                    "digest": "sha256:" + "3" * 64,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": "sha256:" + "1" * 64,
                    },
                },
            ],
        },
        indent=3,  # unusual formatting: the digest is of these bytes, not of a re-dump
    ).encode()


def test_index_children_and_attestations() -> None:
    content = _index()
    index = Manifest.from_bytes(content)
    assert index.media_type == OCI_INDEX
    assert index.is_index
    assert index.digest == digest_of(content)
    assert index.content is content
    children = index.children()
    assert [c.platform for c in children] == ["linux/amd64", "linux/arm64/v8", "unknown/unknown"]
    assert [c.is_attestation for c in children] == [False, False, True]
    assert index.config() is None
    assert index.descriptor.size == len(content)


def test_an_image_names_its_config() -> None:
    body = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "c" * 64,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 3,
                "digest": "sha256:" + "d" * 64,
            }
        ],
    }
    image = Manifest.from_bytes(json.dumps(body).encode())
    assert not image.is_index
    config = image.config()
    assert config is not None
    assert config.digest == "sha256:" + "c" * 64
    assert image.children() == []


def test_malformed_manifests_are_protocol_errors() -> None:
    with pytest.raises(RegistryProtocolError, match="not a JSON object"):
        Manifest.from_bytes(b"[]")
    broken = {"mediaType": OCI_INDEX, "manifests": [{"digest": "nope", "size": 1}]}
    with pytest.raises(RegistryProtocolError, match="valid digest"):
        Manifest.from_bytes(json.dumps(broken).encode()).children()


def test_verify_digest() -> None:
    verify_digest(b"abc", digest_of(b"abc"), "x")
    verify_digest(b"abc", digest_of(b"abc", "sha512"), "x")
    with pytest.raises(RegistryProtocolError, match="hash to"):
        verify_digest(b"abd", digest_of(b"abc"), "x")
    with pytest.raises(RegistryProtocolError, match="unsupported"):
        verify_digest(b"abc", "md5:" + "0" * 32, "x")


# ----------------------------------------------------------------------- hints


def answer(status: int, url: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", url, headers=headers))


def test_hints_name_ghcrs_fixes_on_ghcr() -> None:
    forbidden = registry_hints(answer(403, "https://ghcr.io/v2/o/r/api/tags/list"))
    assert forbidden is not None
    for needle in ["GHCR_REGISTRY_TOKEN", "packages: write", "Manage Actions access"]:
        assert needle in forbidden
    unauthorized = registry_hints(answer(401, "https://ghcr.io/v2/o/r/api/tags/list"))
    assert unauthorized is not None
    for needle in [
        "GHCR_REGISTRY_TOKEN",
        "GITHUB_TOKEN",
        "read:packages",
        "write:packages",
        "fine-grained",
    ]:
        assert needle in unauthorized
    assert registry_hints(answer(404, "https://ghcr.io/v2/o/r/api/tags/list")) is None


def test_hints_for_other_registries_name_the_credential_variables_not_ghcr() -> None:
    url = "https://registry.example.test:5000/v2/o/r/api/tags/list"
    refused = registry_hints(answer(401, url, authorization="Basic eDp5"))
    missing = registry_hints(answer(401, url))
    forbidden = registry_hints(answer(403, url, authorization="Basic eDp5"))
    assert refused is not None
    assert missing is not None
    assert forbidden is not None
    assert refused.startswith("registry.example.test:5000 did not accept the credentials")
    assert missing.startswith("registry.example.test:5000 wants credentials and none were sent")
    for hint in (refused, missing):
        assert "REGISTRY_USERNAME" in hint
        assert "GHCR_REGISTRY_TOKEN" in hint
    assert "push) rights" in forbidden
    for hint in (refused, missing, forbidden):
        for ghcr_only in ("read:packages", "fine-grained", "Manage Actions access"):
            assert ghcr_only not in hint
