"""The registry test infrastructure itself: real docker-registry variants, the
token server, pushed test images, the paging and fault proxies."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
import shutil
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.images import (
    ACCEPT_ALL,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    build_image,
    build_index,
    fetch_manifest,
    list_tags,
    push,
    push_image,
    push_index,
    skopeo_push,
    tag_image,
    write_oci_layout,
)
from tests.support.ports import LoopbackServer, port_open
from tests.support.proxies import ALL_FAULTS, Proxy
from tests.support.registry import Registry, RegistryFactory, TokenServer
from tests.support.registry_process import REPO_ROOT, TEMPLATES, require_tool, run_registry
from tests.support.registry_token import decode_token

# One client for the module: building an httpx.Client costs ~50 ms.
_HTTP = httpx.Client(timeout=30)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    _HTTP.close()


def _basic(username: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def _exchange(
    server: TokenServer, scope: str, credentials: tuple[str, str] | None
) -> httpx.Response:
    auth = httpx.BasicAuth(*credentials) if credentials else None
    return _HTTP.get(server.realm, params={"service": server.service, "scope": scope}, auth=auth)


# -- the three registry variants ---------------------------------------------


def test_anonymous_registry_answers_v2(registry: Registry) -> None:
    response = _HTTP.get(f"{registry.url}/v2/")
    assert response.status_code == 200
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"
    assert registry.host == registry.url.removeprefix("http://")
    assert registry.credentials is None
    assert registry.count("GET", r"^/v2/$") == 1


def test_basic_registry_challenges_and_checks_the_password(basic_registry: Registry) -> None:
    assert basic_registry.username is not None
    assert basic_registry.password is not None
    anonymous = _HTTP.get(f"{basic_registry.url}/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic realm=")
    wrong = _HTTP.get(f"{basic_registry.url}/v2/", headers=_basic(basic_registry.username, "x"))
    assert wrong.status_code == 401
    right = _HTTP.get(
        f"{basic_registry.url}/v2/",
        headers=_basic(basic_registry.username, basic_registry.password),
    )
    assert right.status_code == 200


def test_token_registry_challenges_with_bearer_and_accepts_our_token(
    token_registry: Registry,
) -> None:
    server = token_registry.token_server
    assert server is not None
    assert token_registry.credentials is not None
    challenge = _HTTP.get(f"{token_registry.url}/v2/")
    assert challenge.status_code == 401
    header = challenge.headers["www-authenticate"]
    assert header.startswith(f'Bearer realm="{server.realm}",service="{server.service}"')

    answer = _exchange(server, "repository:owner/app:pull,push", token_registry.credentials)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token"] == body["access_token"]
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert _HTTP.get(f"{token_registry.url}/v2/", headers=bearer).status_code == 200
    started = _HTTP.post(f"{token_registry.url}/v2/owner/app/blobs/uploads/", headers=bearer)
    assert started.status_code == 202

    (request,) = server.requests
    assert request.username == token_registry.username
    assert request.scopes == ("repository:owner/app:pull,push",)
    assert [(g.name, g.actions) for g in request.granted] == [("owner/app", ("pull", "push"))]


def test_token_server_refuses_a_wrong_password(token_server: TokenServer) -> None:
    answer = _exchange(token_server, "repository:owner/app:pull", ("metaboost-ci", "wrong"))
    assert answer.status_code == 401
    assert "token" not in answer.text
    assert token_server.requests[-1].status == 401


def test_anonymous_tokens_pull_public_repositories_only(token_registry: Registry) -> None:
    server = token_registry.token_server
    assert server is not None
    push_image(token_registry, "owner/public", "1")
    push_image(token_registry, "owner/private", "1")
    server.make_public("owner/public")

    def anonymous_get(name: str) -> int:
        token = _exchange(server, f"repository:{name}:pull,push", None).json()["token"]
        granted = decode_token(token)["access"]
        response = _HTTP.get(
            f"{token_registry.url}/v2/{name}/tags/list",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert granted == (
            [{"type": "repository", "name": name, "actions": ["pull"]}]
            if name == "owner/public"
            else []
        )
        return response.status_code

    assert anonymous_get("owner/public") == 200
    assert anonymous_get("owner/private") == 401


def test_limited_scope_blocks_push(token_registry: Registry) -> None:
    server = token_registry.token_server
    assert server is not None
    server.limit("owner/*", {"pull"})
    token = _exchange(server, "repository:owner/app:pull,push", token_registry.credentials)
    bearer = {"Authorization": f"Bearer {token.json()['token']}"}
    response = _HTTP.post(f"{token_registry.url}/v2/owner/app/blobs/uploads/", headers=bearer)
    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_expired_tokens_are_refused_by_the_registry(token_registry: Registry) -> None:
    server = token_registry.token_server
    assert server is not None
    server.policy.expired = True
    token = _exchange(server, "repository:owner/app:pull", token_registry.credentials)
    bearer = {"Authorization": f"Bearer {token.json()['token']}"}
    assert _HTTP.get(f"{token_registry.url}/v2/", headers=bearer).status_code == 401


def test_registry_process_stops_and_cleans_up() -> None:
    with run_registry() as running:
        port = int(running.host.rsplit(":", 1)[1])
        storage = running.storage
        assert port_open(port)
    assert not port_open(port)
    assert not storage.exists()


def test_factory_starts_independent_registries(registry_factory: RegistryFactory) -> None:
    first, second = registry_factory(), registry_factory("basic")
    assert first.url != second.url
    push_image(first, "owner/app", "1")
    assert list_tags(first, "owner/app") == ["1"]
    assert list_tags(second, "owner/app") == []


def test_missing_tool_skips_locally_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    def which(_name: str) -> str | None:
        return None

    monkeypatch.setattr(shutil, "which", which)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install docker-registry"):
        require_tool("docker-registry", "apt-get install docker-registry")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_tool("docker-registry", "apt-get install docker-registry")


# -- pushed images -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "media_type"),
    [
        ("oci-image", OCI_MANIFEST),
        ("docker-image", DOCKER_MANIFEST),
        ("oci-index", OCI_INDEX),
        ("docker-list", DOCKER_LIST),
    ],
)
def test_pushed_manifests_read_back_byte_for_byte(
    registry: Registry, kind: str, media_type: str
) -> None:
    labels = {"org.opencontainers.image.revision": "0" * 40}
    schema = "docker" if kind.startswith("docker") else "oci"
    push = push_image if kind.endswith("image") else push_index
    pushed = push(registry, "owner/app", "t", labels=labels, schema=schema)
    assert pushed.media_type == media_type
    for reference in (pushed.digest, "t"):
        response = fetch_manifest(registry, "owner/app", reference)
        assert response.status_code == 200
        assert response.content == pushed.manifest_bytes
        assert response.headers["docker-content-digest"] == pushed.digest
        assert response.headers["content-type"] == media_type
    for child in pushed.children:
        assert fetch_manifest(registry, "owner/app", child.digest).content == child.manifest_bytes


def test_an_index_has_two_platforms_and_their_attestations(registry: Registry) -> None:
    pushed = push_index(registry, "owner/app", "1.0.0")
    platforms = [child.platform for child in pushed.children]
    assert platforms == ["linux/amd64", "linux/arm64", "unknown/unknown", "unknown/unknown"]
    index = fetch_manifest(registry, "owner/app", "1.0.0").json()
    attestations = [m for m in index["manifests"] if m["platform"]["os"] == "unknown"]
    assert [a["annotations"]["vnd.docker.reference.type"] for a in attestations] == [
        "attestation-manifest"
    ] * 2
    assert [a["annotations"]["vnd.docker.reference.digest"] for a in attestations] == list(
        pushed.child_digests[:2]
    )


def test_labels_land_in_the_config(registry: Registry) -> None:
    pushed = push_image(
        registry, "owner/app", "1", labels={"org.opencontainers.image.revision": "abc"}
    )
    config = _HTTP.get(f"{registry.url}/v2/owner/app/blobs/{pushed.config_digest}").json()
    assert config["config"]["Labels"] == {"org.opencontainers.image.revision": "abc"}


def test_seeded_images_are_reproducible() -> None:
    assert build_image(seed=3).digest == build_image(seed=3).digest
    assert build_image(seed=3).digest != build_image(seed=4).digest
    assert build_image().digest != build_image().digest
    assert build_index(seed=1).digest == build_index(seed=1).digest


def test_retag_and_push_by_digest(registry: Registry) -> None:
    image = push(registry, "owner/app", build_image(), tags=None)
    assert list_tags(registry, "owner/app") == []
    tag_image(registry, "owner/app", image, ["a", "b"])
    assert list_tags(registry, "owner/app") == ["a", "b"]
    assert registry.count("PUT", "/manifests/") == 3


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_pushes_authenticate(registry_factory: RegistryFactory, auth: str) -> None:
    target = registry_factory(auth)
    pushed = push_index(target, "owner/app", "1")
    assert fetch_manifest(target, "owner/app", "1").content == pushed.manifest_bytes


def test_skopeo_pushes_an_oci_layout_with_the_same_digest(
    basic_registry: Registry, tmp_path: Path
) -> None:
    index = build_index()
    skopeo_push(basic_registry, write_oci_layout(index, tmp_path / "layout"), "owner/app", "1")
    response = fetch_manifest(basic_registry, "owner/app", "1")
    assert response.headers["docker-content-digest"] == index.digest


# -- proxies -------------------------------------------------------------------


def test_paging_proxy_pages_like_ghcr(
    registry: Registry, paging_proxy: Callable[..., Proxy]
) -> None:
    image = push_image(registry, "owner/app", None)
    tags = [f"1.0.0-staging.{n}" for n in range(250)]
    tag_image(registry, "owner/app", image, tags)
    proxy = paging_proxy(registry)

    pages: list[list[str]] = []
    url: str | None = f"{proxy.url}/v2/owner/app/tags/list"
    while url is not None:
        response = _HTTP.get(url)
        assert response.status_code == 200
        pages.append(response.json()["tags"])
        link = response.headers.get("link")
        if link is None:
            url = None
        else:
            target = link.split(";")[0].strip("<>")
            assert target.startswith("/v2/owner/app/tags/list?last=")
            assert link.endswith('; rel="next"')
            url = proxy.url + target
    assert [len(page) for page in pages] == [100, 100, 50]
    assert [tag for page in pages for tag in page] == sorted(tags)

    whole = _HTTP.get(f"{proxy.url}/v2/owner/app/tags/list", params={"n": 1000})
    assert len(whole.json()["tags"]) == 250
    assert "link" not in whole.headers
    last = "1.0.0-staging.12"
    after = _HTTP.get(f"{proxy.url}/v2/owner/app/tags/list", params={"n": 2, "last": last})
    assert after.json()["tags"] == [t for t in sorted(tags) if t > last][:2]
    assert proxy.count("GET", "/tags/list") == 5


def test_proxy_passes_pushes_through_and_rewrites_nothing_it_need_not(
    registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    proxy = proxy_factory(registry)
    pushed = push_index(proxy.registry, "owner/app", "1")
    head = _HTTP.head(f"{proxy.url}/v2/owner/app/manifests/1", headers={"Accept": ACCEPT_ALL})
    assert head.status_code == 200
    assert head.headers["docker-content-digest"] == pushed.digest
    assert int(head.headers["content-length"]) == len(pushed.manifest_bytes)
    # Uploads continue at the proxy: the Location the registry built points at it.
    started = _HTTP.post(f"{proxy.url}/v2/owner/app/blobs/uploads/")
    assert started.headers["location"].startswith(f"{proxy.url}/v2/owner/app/blobs/uploads/")

    def chunks() -> Iterator[bytes]:
        yield b"hello "
        yield b"world"

    digest = "sha256:" + hashlib.sha256(b"hello world").hexdigest()
    finished = _HTTP.put(f"{started.headers['location']}&digest={digest}", content=chunks())
    assert finished.status_code == 201
    deleted = _HTTP.delete(f"{proxy.url}/v2/owner/app/manifests/{pushed.digest}")
    assert deleted.status_code == 202
    methods = {record.method for record in proxy.records}
    assert methods == {"POST", "PUT", "HEAD", "DELETE"}
    assert registry.count() == len(proxy.records)


def _outcomes(proxy: Proxy, requests: int) -> list[str]:
    seen: list[str] = []
    for _ in range(requests):
        try:
            seen.append(str(_HTTP.get(f"{proxy.url}/v2/").status_code))
        except httpx.TransportError:
            seen.append("drop")
    return seen


def test_fault_proxy_injects_at_the_rate_and_repeats_with_the_seed(
    registry: Registry, fault_proxy: Callable[..., Proxy]
) -> None:
    first = _outcomes(fault_proxy(registry, rate=0.3, seed=7), 200)
    again = _outcomes(fault_proxy(registry, rate=0.3, seed=7), 200)
    other = _outcomes(fault_proxy(registry, rate=0.3, seed=8), 200)
    assert first == again
    assert first != other
    faults = [outcome for outcome in first if outcome != "200"]
    assert 40 <= len(faults) <= 80  # 60 expected
    assert set(faults) == {"429", "500", "502", "503", "504", "drop"}


def test_fault_proxy_retry_after_forms(
    registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    proxy = proxy_factory(registry, retry_after=1)
    proxy.inject("429")
    proxy.inject("429-date")
    seconds = _HTTP.get(f"{proxy.url}/v2/")
    dated = _HTTP.get(f"{proxy.url}/v2/")
    assert (seconds.status_code, seconds.headers["retry-after"]) == (429, "1")
    assert dated.status_code == 429
    assert email.utils.parsedate_to_datetime(dated.headers["retry-after"]) is not None
    assert _HTTP.get(f"{proxy.url}/v2/").status_code == 200
    assert [r.fault for r in proxy.records] == ["429", "429-date", None]
    assert registry.count() == 1


def test_scripted_fault_after_processing_loses_only_the_answer(
    registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    image = push_image(registry, "owner/app", None)
    proxy = proxy_factory(registry)
    proxy.inject("503", method="PUT", path="/manifests/", processed=True)
    put = _HTTP.put(
        f"{proxy.url}/v2/owner/app/manifests/1",
        content=image.manifest_bytes,
        headers={"Content-Type": image.media_type},
    )
    assert put.status_code == 503
    assert list_tags(registry, "owner/app") == ["1"]


def test_token_endpoint_is_exempt_unless_asked(
    token_server: TokenServer, proxy_factory: Callable[..., Proxy]
) -> None:
    exempt = proxy_factory(token_server.url, fault_rate=1.0)
    assert _HTTP.get(f"{exempt.url}/token", params={"scope": ""}).status_code == 200
    faulty = proxy_factory(token_server.url, fault_rate=1.0, faults=["500"], fault_token=True)
    assert _HTTP.get(f"{faulty.url}/token").status_code == 500


def test_token_requests_can_go_through_a_proxy(
    registry_factory: RegistryFactory,
    token_server: TokenServer,
    proxy_factory: Callable[..., Proxy],
) -> None:
    proxy = proxy_factory(token_server.url)
    target = registry_factory("token", token_server=token_server, realm=f"{proxy.url}/token")
    push_image(target, "owner/app", "1")
    assert proxy.count("GET", "^/token") == len(token_server.requests) >= 1


def test_latency_is_added_to_every_request(
    registry: Registry, proxy_factory: Callable[..., Proxy]
) -> None:
    proxy = proxy_factory(registry, latency=0.025)
    started = time.monotonic()
    for _ in range(4):
        _HTTP.get(f"{proxy.url}/v2/")
    # A lower bound only: the sleep guarantees it, so this cannot flake.
    assert time.monotonic() - started >= 4 * 0.025


def test_bad_proxy_options_are_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="unknown faults"):
        Proxy(registry, faults=["418"])
    with pytest.raises(ValueError, match="http://HOST:PORT"):
        Proxy("ftp://example")


def test_all_faults_are_known() -> None:
    assert set(ALL_FAULTS) == {"429", "429-date", "500", "502", "503", "504", "drop"}


def test_one_token_can_cover_several_repositories(token_registry: Registry) -> None:
    server = token_registry.token_server
    assert server is not None
    assert token_registry.credentials is not None
    answer = _HTTP.get(
        server.realm,
        params=[
            ("service", server.service),
            ("scope", "repository:owner/source:pull"),
            ("scope", "repository:owner/target:pull,push"),
        ],
        auth=httpx.BasicAuth(*token_registry.credentials),
    )
    access = decode_token(answer.json()["token"])["access"]
    assert access == [
        {"type": "repository", "name": "owner/source", "actions": ["pull"]},
        {"type": "repository", "name": "owner/target", "actions": ["pull", "push"]},
    ]


def test_proxy_rewrites_the_upstreams_own_absolute_urls(
    proxy_factory: Callable[..., Proxy],
) -> None:
    class Upstream(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", f"{upstream.url}/next")
            self.send_header("Link", f'<{upstream.url}/page2>; rel="next"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    upstream = LoopbackServer(Upstream)
    upstream.start()
    try:
        proxy = proxy_factory(upstream.url)
        response = _HTTP.get(f"{proxy.url}/start")
        assert response.headers["location"] == f"{proxy.url}/next"
        assert response.headers["link"] == f'<{proxy.url}/page2>; rel="next"'
    finally:
        upstream.stop()


@pytest.mark.parametrize("config", sorted(TEMPLATES.glob("*.yml")), ids=lambda p: p.name)
def test_each_configuration_names_the_module_that_fills_it(config: Path) -> None:
    named = re.findall(r"filled by (tests/support/\S+\.py)", config.read_text())
    assert named == ["tests/support/registry_process.py"]
    assert "string.Template(" in (REPO_ROOT / named[0]).read_text()
