"""``core.tags``: which tag names and commit ids are accepted, as tables.

Every refused name is also checked against Git itself (``git check-ref-format``),
so the table cannot drift from the rule it copies; ``@`` alone is the one place
we are stricter than Git (``git rev-parse @`` means HEAD, so such a tag would
only confuse).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from metaboost_ci.core.errors import InputError
from metaboost_ci.core.tags import require_commit_sha, require_tag_name

# (name, why); the why doubles as the test id (plain words: mutmut passes ids back to pytest).
REFUSED = [
    ("", "empty"),
    ("@", "at-alone, HEAD's shorthand: Git allows refs-tags-at, we do not"),
    ("a.", "ends with a dot"),
    ("a/", "ends with a slash"),
    ("/a", "starts with a slash"),
    ("a/.b", "a component starts with a dot"),
    (".a", "starts with a dot"),
    ("x.lock", "ends with dot-lock"),
    ("x.lock/b", "a component ends with dot-lock"),
    ("a/b.lock", "the last component ends with dot-lock"),
    ("a@{b", "at-brace"),
    ("@{", "at-brace alone"),
    ("a//b", "two slashes"),
    ("a..b", "two dots"),
    ("a\x7fb", "DEL"),
    ("a\x00b", "NUL"),
    ("a\x1fb", "the last control character"),
    ("a b", "space"),
    ("a\tb", "tab"),
    ("a~b", "tilde"),
    ("a^b", "caret"),
    ("a:b", "colon"),
    ("a?b", "question mark"),
    ("a*b", "star"),
    ("a[b", "bracket"),
    ("a\\b", "backslash"),
]
ACCEPTED = [
    "1.2.0-staging.3",
    "1.2.0",
    "latest",
    "release/1.2.0",
    "a!b",  # "!" (0x21) is the first character after the refused range
    "a@b",
    "@a",
    "a@",
    "a{b",
    "a.b",
    "a.lockb",
    "x.lock.y",  # .lock only counts at the end of a component
    "a/b.c",
    "_a",
    "a-",
]
STRICTER_THAN_GIT = {"@"}


def ids(rows: list[tuple[str, str]]) -> list[str]:
    return [re.sub(r"[^A-Za-z0-9]+", "-", why).strip("-") for _, why in rows]


def git_accepts(tag: str) -> bool:
    if "\x00" in tag:
        return False  # cannot even be passed as an argument
    done = subprocess.run(
        ["git", "check-ref-format", f"refs/tags/{tag}"], capture_output=True, check=False
    )
    return done.returncode == 0


@pytest.mark.parametrize(("tag", "why"), REFUSED, ids=ids(REFUSED))
def test_refused_tag_names_name_the_tag_and_the_fix(tag: str, why: str) -> None:
    with pytest.raises(InputError) as caught:
        require_tag_name(tag)
    error = caught.value
    assert error.message == f"{tag!r} is not a valid Git tag name.", why
    assert error.fix == "Use letters, digits, '.', '-', '_' and '/', e.g. 1.2.0-staging.3."
    assert error.exit_code == 2


@pytest.mark.parametrize("tag", ACCEPTED, ids=[f"accepted-{i}" for i in range(len(ACCEPTED))])
def test_accepted_tag_names_are_returned_unchanged(tag: str) -> None:
    assert require_tag_name(tag) == tag


@pytest.mark.parametrize(
    ("tag", "accepted"),
    [(t, False) for t, _ in REFUSED if t not in STRICTER_THAN_GIT] + [(t, True) for t in ACCEPTED],
    ids=[f"refused-{i}" for i, (t, _) in enumerate(REFUSED) if t not in STRICTER_THAN_GIT]
    + [f"accepted-{i}" for i in range(len(ACCEPTED))],
)
def test_the_table_agrees_with_git_check_ref_format(tag: str, accepted: bool) -> None:
    assert git_accepts(tag) is accepted


SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("given", "returned"),
    [
        pytest.param(SHA1, SHA1, id="sha1"),
        pytest.param(SHA256, SHA256, id="sha256"),  # a SHA-256 repository's commit id
        pytest.param(SHA1.upper(), SHA1, id="sha1-upper"),
        pytest.param(SHA256.upper(), SHA256, id="sha256-upper"),
        pytest.param(f"  {SHA1}\n", SHA1, id="as-rev-parse-prints-it"),
    ],
)
def test_full_commit_ids_are_returned_normalised(given: str, returned: str) -> None:
    assert require_commit_sha(given) == returned


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("", id="empty"),
        pytest.param(SHA1[:7], id="short"),  # short SHAs are ambiguous
        pytest.param(SHA1[:39], id="39"),
        pytest.param(SHA1 + "0", id="41"),
        pytest.param(SHA256[:63], id="63"),
        pytest.param(SHA256 + "0", id="65"),
        pytest.param(SHA1[:39] + "g", id="not-hex"),
        pytest.param(SHA1[:20] + " " + SHA1[20:39], id="inner-space"),
        pytest.param("HEAD", id="a-name"),
    ],
)
def test_anything_but_a_full_commit_id_is_refused_naming_it(given: str) -> None:
    with pytest.raises(InputError) as caught:
        require_commit_sha(given)
    error = caught.value
    assert error.message == (
        f"{given!r} is not a full commit SHA (40 hexadecimal characters, or 64 for SHA-256)."
    )
    assert error.fix == "Pass the full SHA, e.g. the output of `git rev-parse HEAD`."
    assert error.exit_code == 2
