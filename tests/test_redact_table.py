"""``core.redact``: what comes out for each shape of secret, exactly.

The registry of secrets is process wide: each test here starts from an empty
one (and puts the old one back), so what an earlier test or process registered
cannot make a test pass.
"""

from __future__ import annotations

import base64

import pytest

from metaboost_ci.core import redact as redact_module
from metaboost_ci.core.errors import MetaboostCiError
from metaboost_ci.core.redact import redact, register_basic, register_secret


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact_module, "_secrets", set())


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Authorization: Bearer x", "Authorization: ***", id="bearer"),
        pytest.param("authorization=Basic dXNlcjpwdw==", "authorization=***", id="basic-equals"),
        pytest.param("AUTHORIZATION :  token-only", "AUTHORIZATION :  ***", id="no-scheme"),
        pytest.param(
            "sent Authorization: Bearer abc def", "sent Authorization: *** def", id="one-value"
        ),
        pytest.param(
            "{'authorization': 'Bearer tok-1'}", "{'authorization': '***'}", id="dict-repr"
        ),
        pytest.param('{"Authorization": "Basic dXNlcg=="}', '{"Authorization": "***"}', id="json"),
    ],
)
def test_authorization_headers_are_masked_whatever_they_hold(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "fetch https://ci-bot:pw-never-registered-71@ghcr.io/v2/ failed",
            "fetch https://***@ghcr.io/v2/ failed",
            id="https-user-and-password",
        ),
        pytest.param(
            "git+ssh://git:pw-never-registered-72@example.test/r.git",
            "git+ssh://***@example.test/r.git",
            id="scheme-with-plus",
        ),
        pytest.param(
            "HTTP://U:pw-never-registered-73@h and http://v:pw-never-registered-74@k",
            "HTTP://***@h and http://***@k",
            id="two-urls-any-case",
        ),
        pytest.param(
            "https://ghcr.io/v2/acme/app/manifests/sha256:abc@x",
            "https://ghcr.io/v2/acme/app/manifests/sha256:abc@x",
            id="colon-and-at-in-the-path-are-not-userinfo",
        ),
    ],
)
def test_a_url_password_is_masked_even_when_never_registered(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "order", [pytest.param(1, id="shorter-registered-first"), pytest.param(-1, id="longer-first")]
)
def test_overlapping_secrets_mask_the_longer_first(order: int) -> None:
    # The shorter sorts after the longer as text too ("o" > "A"): only length decides.
    for secret in ["ovl-Tq81", "Aq-ovl-Tq81"][::order]:
        register_secret(secret)
    assert redact("token Aq-ovl-Tq81; short ovl-Tq81.") == "token ***; short ***."


def test_the_minimum_length_is_four_characters() -> None:
    register_secret("Zq3")
    register_secret("Zq4#")
    register_secret("")
    register_secret(None)
    # Three characters are ordinary text (masking them would shred messages).
    assert redact("Zq3 Zq4# done") == "Zq3 *** done"


def test_a_secret_and_its_base64_are_masked() -> None:
    register_secret("b64-secret-Kx9")
    assert redact(f"a b64-secret-Kx9 b {b64('b64-secret-Kx9')} c") == "a *** b *** c"


def test_a_basic_pair_masks_the_password_and_the_encoded_pair_not_the_user() -> None:
    register_basic("basic-user-Wm2", "basic-pass-Wm2")
    text = f"user basic-user-Wm2 pass basic-pass-Wm2 header {b64('basic-user-Wm2:basic-pass-Wm2')}"
    assert redact(text) == "user basic-user-Wm2 pass *** header ***"


def test_errors_are_redacted_when_built() -> None:
    register_secret("err-secret-Pp5")
    error = MetaboostCiError("echoed err-secret-Pp5", fix="rotate err-secret-Pp5")
    assert str(error) == "echoed *** Fix: rotate ***"
