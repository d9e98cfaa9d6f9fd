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
