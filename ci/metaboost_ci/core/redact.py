"""Secret redaction, process wide, in the spirit of GitHub Actions' add-mask.

Every credential is registered the moment it is read (from the environment, a
Dagger secret, a token exchange). Every error message is passed through
``redact`` when it is built, so a secret cannot reach output, logs or
exceptions even when a remote echoes it back.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Mapping
from typing import cast

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
# Authorization headers are never printed, whatever they hold.
# Also as a quoted key and value ({'authorization': 'Bearer x'}, JSON): the quotes stay.
_AUTH_HEADER = re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)([^\s'"]+\s+)?[^\s'"]+""")
# URL userinfo (https://user:token@host) is a credential too.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")


# Words in a variable's name that mark its value as a secret.
_SECRET_WORDS = frozenset({"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS", "KEY", "PAT"})
_MIN_ENV_SECRET = 8


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and its common encodings) so it is masked everywhere."""
    if not value or len(value) < 4:
        # Masking a 1-3 character string would shred ordinary text; such a
        # value is not a real credential anyway.
        return
    with _lock:
        _secrets.add(value)
        _secrets.add(base64.b64encode(value.encode()).decode())


def register_environment_secrets(env: Mapping[str, str]) -> None:
    """Register the values of variables whose names say they are secrets.

    The process holds more than the credentials it reads (Actions'
    ACTIONS_RUNTIME_TOKEN and ACTIONS_ID_TOKEN_REQUEST_TOKEN, a DAGGER_CLOUD_TOKEN,
    whatever the job exports); none may reach output or GitHub. Short values
    are left alone: a name like FEATURE_KEY=on holds no secret, and masking
    "on" would shred ordinary text.
    """
    for name, value in env.items():
        words = set(name.upper().split("_"))
        if words & _SECRET_WORDS and len(value) >= _MIN_ENV_SECRET:
            register_secret(value)


def register_basic(username: str, password: str) -> None:
    """Register a username:password pair as sent in a Basic header."""
    register_secret(password)
    register_secret(base64.b64encode(f"{username}:{password}".encode()).decode())


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and credential shape masked."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{_MASK}", text)
    return _USERINFO.sub(lambda m: f"{m.group(1)}{_MASK}@", text)


def redact_data(value: object) -> object:
    """``value`` (JSON-like: dicts, lists, strings) with every string redacted.

    For what is sent rather than printed: a release body made from a file
    that holds a token must not publish it.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in cast(dict[object, object], value).items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in cast(list[object], value)]
    return value
