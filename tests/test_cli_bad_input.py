"""Bad input and refusing remotes: one clear sentence and the fix, the right exit
code, no secret in any output, and no write of any kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.registry import RegistryFactory
from tests.support.release import ReleaseWorld, StatusRegistry, WorldFactory, run_cli

BASE = "1.4.0"
MISSING_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Case:
    world: ReleaseWorld
    commit: str
    env: dict[str, str]
    options: list[str]
    tmp: Path
    status_registry: Callable[..., StatusRegistry]


def reserve(case: Case, *extra: str) -> list[str]:
    return [*case.options, "reserve", "--commit", case.commit, *extra]


def promote(case: Case, *extra: str) -> list[str]:
    return [*case.options, "promote", "--commit", case.commit, "--base-version", BASE, *extra]


def bad_package_json(text: str) -> Callable[[Case], list[str]]:
    def build(case: Case) -> list[str]:
        (case.tmp / "package.json").write_text(text)
        return reserve(case, "--source", str(case.tmp))

    return build


def without(*names: str) -> Callable[[Case], list[str]]:
    def build(case: Case) -> list[str]:
        for name in names:
            case.env.pop(name, None)
        return reserve(case, "--base-version", BASE)

    return build


def registry_answering(status: int, code: str) -> Callable[[Case], list[str]]:
    def build(case: Case) -> list[str]:
        stub = case.status_registry(status, code, "denied by policy")
        return [*promote(case), "--registry", stub.url]

    return build


def ghcr_without_token(case: Case) -> list[str]:
    for name in ("GHCR_REGISTRY_TOKEN", "GITHUB_TOKEN"):
        case.env.pop(name, None)
    return [*promote(case), "--registry", "https://ghcr.io", "--git-remote", str(case.world.bare)]


def wrong_github_token(case: Case) -> list[str]:
    case.env["GITHUB_TOKEN"] = "ghs_not_the_right_token_at_all"
    return reserve(case, "--base-version", BASE)


def output_file_unset(variable: str, flag: str) -> Callable[[Case], list[str]]:
    """A results file that is not there: refused before the reservation or the promotion."""

    def build(case: Case) -> list[str]:
        case.world.github.repos.remote_tag_create(f"{BASE}-staging.0", case.commit)
        case.world.push_build(f"{BASE}-staging.0", case.commit)
        case.env.pop(variable, None)
        return (
            [*promote(case), flag]
            if flag != "--github-output"
            else [
                *reserve(case, "--base-version", BASE),
                flag,
            ]
        )

    return build


def kustomize_into_a_missing_directory(case: Case) -> list[str]:
    case.world.push_build(f"{BASE}-staging.0", case.commit)
    pins = str(case.tmp / "absent" / "pins.yaml")
    return [*case.options, "summary", "--version", f"{BASE}-staging.0", "--kustomize", pins]


def zero_apps(command: str, apps: str) -> Callable[[Case], list[str]]:
    """A staging build is there to promote; the app list names none of it."""

    def build(case: Case) -> list[str]:
        case.world.github.repos.remote_tag_create(f"{BASE}-staging.0", case.commit)
        case.world.push_build(f"{BASE}-staging.0", case.commit)
        if command == "promote":
            return [*promote(case), "--apps", apps]
        return [*case.options, "verify", "--version", f"{BASE}-staging.0", "--apps", apps]

    return build


def move_floating_to(float_tag: str) -> Callable[[Case], list[str]]:
    def build(case: Case) -> list[str]:
        case.world.push_build(f"{BASE}-staging.0", case.commit)
        version = ("--version", f"{BASE}-staging.0")
        return [*case.options, "move-floating", *version, "--float-tag", float_tag]

    return build


def github_output_into(path: str) -> Callable[[Case], list[str]]:
    """A results file that exists but takes no appends (/proc/version)."""

    def build(case: Case) -> list[str]:
        case.world.push_build(f"{BASE}-staging.0", case.commit)
        case.env["GITHUB_OUTPUT"] = path
        version = ("--version", f"{BASE}-staging.0")
        return [*case.options, "summary", *version, "--github-output"]

    return build


CASES: dict[str, tuple[Callable[[Case], list[str]], int, str]] = {
    "override not staging.N": (
        lambda c: reserve(c, "--base-version", BASE, "--version-override", f"{BASE}-beta.1"),
        2,
        "must be exactly staging.N",
    ),
    "override with build metadata": (
        lambda c: reserve(c, "--base-version", BASE, "--version-override", f"{BASE}-staging.1+b"),
        2,
        "build metadata",
    ),
    "override of another base": (
        lambda c: reserve(c, "--base-version", BASE, "--version-override", "9.0.0-staging.1"),
        2,
        "--allow-other-base",
    ),
    "package.json not JSON": (bad_package_json("{ nope"), 2, "is not valid JSON"),
    "package.json without version": (bad_package_json('{"name": "x"}'), 2, 'no "version"'),
    "package.json version not SemVer": (
        bad_package_json('{"version": "1.4"}'),
        2,
        "which is not SemVer",
    ),
    "no package.json": (
        lambda c: reserve(c, "--source", str(c.tmp / "absent")),
        2,
        "does not exist",
    ),
    "bad base version": (lambda c: reserve(c, "--base-version", "1.4"), 2, "X.Y.Z"),
    "unknown app": (
        lambda c: [*reserve(c, "--base-version", BASE), "--apps", "api,payments"],
        2,
        "Unknown app(s): payments.",
    ),
    "promote --apps ','": (zero_apps("promote", ","), 2, "names no app"),
    "verify --apps ' '": (zero_apps("verify", " "), 2, "names no app"),
    "short commit": (
        lambda c: [*c.options, "reserve", "--commit", c.commit[:8], "--base-version", BASE],
        2,
        "not a full commit SHA",
    ),
    "commit the remote lacks": (
        lambda c: [*c.options, "reserve", "--commit", MISSING_COMMIT, "--base-version", BASE],
        2,
        f"has no commit {MISSING_COMMIT}",
    ),
    "bad repository": (
        lambda c: [*reserve(c, "--base-version", BASE), "--repository", "just-a-name"],
        2,
        "OWNER/REPO",
    ),
    "bad registry URL": (
        lambda c: [*reserve(c, "--base-version", BASE), "--registry", "ftp://registry"],
        2,
        "--registry",
    ),
    "registry URL with an unclosed IPv6 bracket": (
        lambda c: [*reserve(c, "--base-version", BASE), "--registry", "http://[::1"],
        2,
        "Registry URL 'http://[::1' is not usable: its IPv6 address has no closing ']'.",
    ),
    "registry port out of range": (
        lambda c: [*reserve(c, "--base-version", BASE), "--registry", "http://127.0.0.1:99999"],
        2,
        "its port '99999' is not a number from 1 to 65535",
    ),
    "registry host with a space": (
        lambda c: [*reserve(c, "--base-version", BASE), "--registry", "http://127.0.0.1 :5103"],
        2,
        "contains a space",
    ),
    "GitHub API URL with an unclosed IPv6 bracket": (
        lambda c: [*reserve(c, "--base-version", BASE), "--github-api-url", "http://[::1"],
        2,
        "GitHub API URL 'http://[::1' is not usable",
    ),
    "Git remote URL with a port out of range": (
        lambda c: [
            *reserve(c, "--base-version", BASE),
            *("--git-remote", "http://127.0.0.1:99999/r.git"),
        ],
        2,
        "Git remote 'http://127.0.0.1:99999/r.git' is not usable",
    ),
    "missing GitHub token": (without("GITHUB_TOKEN"), 2, "GITHUB_TOKEN is not set"),
    "wrong GitHub token": (wrong_github_token, 1, "401"),
    "missing registry token for ghcr.io": (ghcr_without_token, 2, "GHCR_REGISTRY_TOKEN"),
    "registry answers 401": (
        lambda c: [*promote(c), "--registry", c.env.pop("TOKEN_REGISTRY_URL")],
        1,
        "GHCR_REGISTRY_TOKEN",
    ),
    "registry answers 403": (registry_answering(403, "DENIED"), 1, "to write, push) rights"),
    "registry has nothing (404)": (promote, 1, f"No {BASE}-staging.N can be promoted"),
    "reserve --github-output without GITHUB_OUTPUT": (
        output_file_unset("GITHUB_OUTPUT", "--github-output"),
        2,
        "GITHUB_OUTPUT is not set",
    ),
    "promote --github-step-summary without GITHUB_STEP_SUMMARY": (
        output_file_unset("GITHUB_STEP_SUMMARY", "--github-step-summary"),
        2,
        "GITHUB_STEP_SUMMARY is not set",
    ),
    "summary --kustomize into a missing directory": (
        kustomize_into_a_missing_directory,
        2,
        "cannot be written",
    ),
    "move-floating of an immutable tag": (
        lambda c: [
            *c.options,
            "move-floating",
            *("--version", f"{BASE}-staging.1", "--float-tag", BASE),
        ],
        2,
        "version tags are immutable",
    ),
    "move-floating to an empty tag": (move_floating_to(""), 2, "--float-tag '' is not"),
    "move-floating to a tag with a space": (
        move_floating_to("bad tag"),
        2,
        "--float-tag 'bad tag' is not a valid image tag",
    ),
    "summary --github-output into a file that takes no appends": (
        github_output_into("/proc/version"),
        2,
        "$GITHUB_OUTPUT names /proc/version, which cannot be written",
    ),
    "verify of a version that is not one": (
        lambda c: [*c.options, "verify", "--version", "latest"],
        2,
        "--version 'latest' is neither X.Y.Z nor X.Y.Z-staging.N",
    ),
    "move-floating from a version that is not one": (
        lambda c: [*c.options, "move-floating", "--version", "1.4", "--float-tag", "staging"],
        2,
        "--version '1.4' is neither X.Y.Z nor X.Y.Z-staging.N",
    ),
    "summary of a version that is not one": (
        lambda c: [*c.options, "summary", "--version", f"v{BASE}"],
        2,
        "is neither X.Y.Z nor X.Y.Z-staging.N",
    ),
    "move-floating of an incomplete version": (
        lambda c: [
            *c.options,
            "move-floating",
            "--version",
            "1.0.0-staging.0",
            "--float-tag",
            "staging",
        ],
        1,
        "was not moved on any app",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_clearly_without_writing(
    name: str,
    world_factory: WorldFactory,
    registry_factory: RegistryFactory,
    status_registry: Callable[..., StatusRegistry],
    tmp_path: Path,
) -> None:
    build, expected_code, expected_text = CASES[name]
    world = world_factory()
    env = world.env()
    secrets = [world.github.token]
    if name == "registry answers 401":
        token_registry = registry_factory("token")
        env["TOKEN_REGISTRY_URL"] = token_registry.url
        secrets.append(token_registry.password or "")
    case = Case(world, world.commit(), env, world.cli_options(), tmp_path, status_registry)
    if name == "move-floating of an incomplete version":
        world.push_build("1.0.0-staging.0", None, apps=("api",))
    args = build(case)
    before = world.snapshot()
    requests_before = len(world.origin.access_log())
    # Every other case asks for --json: a failure is then one JSON document on
    # stdout; without it, stdout stays empty.
    as_json = list(CASES).index(name) % 2 == 0

    result = run_cli([*args, "--json"] if as_json else args, env=case.env, cwd=world.work)

    assert result.code == expected_code, result.all_output
    error = result.err.strip().splitlines()
    message = next(line for line in error if line.startswith("error: "))
    assert expected_text in result.err
    if expected_code == 2 or "Fix: " in message:
        # One sentence (or a list under it) and the fix.
        assert "Fix: " in result.err
    if as_json:
        error = result.json()["error"]
        assert error["exit_code"] == expected_code
        assert "\n" not in error["message"]
        said = " ".join([error["message"], *error["problems"], error["fix"] or ""])
        assert expected_text in said
        assert error["fix"] or expected_code == 1
    else:
        assert result.out == ""
    for secret in secrets:
        assert secret not in result.all_output
    assert world.snapshot() == before
    if expected_code == 2 and name != "commit the remote lacks":
        # Refused before any request, not only before any write (a missing
        # commit is found by asking the tag store, after the registry read).
        assert len(world.origin.access_log()) == requests_before, name
