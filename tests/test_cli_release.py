"""``metaboost-ci`` release commands end to end: real registry, emulator, real Git."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from metaboost_ci.cli.main import build_parser
from tests.support.registry_process import Registry
from tests.support.release import APPS, REPOSITORY, ReleaseWorld, WorldFactory, run_cli

BASE = "1.4.0"
CHANGELOG = f"docs/development/CHANGELOGS/{BASE}.md"
NOTES = "## 1.4.0\n\n- Faster promotions.\n"


def monorepo_commit(world: ReleaseWorld, *, changelog: bool = True) -> str:
    files = {"package.json": json.dumps({"name": "metaboost", "version": f"{BASE}-rc.2"})}
    if changelog:
        files[CHANGELOG] = NOTES
    return world.commit_files(files, "monorepo state")


def test_staging_and_main_through_the_command_line(
    world_factory: WorldFactory, token_registry: Registry, tmp_path: Path
) -> None:
    world = world_factory(origin=token_registry)
    env = world.env()
    env["GITHUB_OUTPUT"] = str(tmp_path / "output")
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    commit = monorepo_commit(world)
    cli = [*world.cli_options()]

    def run(*args: str) -> dict[str, object]:
        result = run_cli([*cli, *args, "--json"], env=env, cwd=world.work)
        assert result.code == 0, result.all_output
        # Which variables were used is said; their values never are.
        assert "GHCR_REGISTRY_TOKEN" in result.err
        for secret in (world.github.token, token_registry.password or ""):
            assert secret not in result.all_output
        return result.json()

    reserved = run("reserve", "--commit", commit)  # base from ./package.json
    version = str(reserved["version"])
    assert version == f"{BASE}-staging.0"
    assert reserved["credentials"] == {
        "registry_token": "GHCR_REGISTRY_TOKEN",
        "registry_username": "REGISTRY_USERNAME",
        "github_token": "GITHUB_TOKEN",
    }
    pushed = world.push_build(version, commit, index_apps=("web",))
    run("verify", "--version", version)
    run("move-floating", "--version", version, "--float-tag", "staging")
    verified = run("verify", "--version", version, "--float-tag", "staging")
    assert verified["digests"] == {a: pushed[a].digest for a in APPS}
    released = run("release", "--tag", version, "--commit", commit, "--prerelease")
    assert released["action"] == "created"
    assert world.github.releases[1001]["body"] == NOTES
    summary = run(
        "summary",
        "--version",
        version,
        "--float-tag",
        "staging",
        "--github-output",
        "--github-step-summary",
        "--kustomize",
        str(tmp_path / "pins.yaml"),
    )
    assert summary["staging_n"] == 0
    outputs = (tmp_path / "output").read_text()
    assert f"version={version}\n" in outputs
    assert f"digest_management_web={pushed['management-web'].digest}\n" in outputs
    pins = (tmp_path / "pins.yaml").read_text()
    assert f"  - name: {world.via.host}/{REPOSITORY}/web\n" in pins
    assert f'    digest: "{pushed["web"].digest}"\n' in pins
    assert "| web |" in (tmp_path / "summary.md").read_text()

    before = world.snapshot()
    dry = run("promote", "--commit", commit, "--source", str(world.work), "--dry-run")
    assert world.snapshot() == before
    assert dry["dry_run"] is True
    promoted = run("promote", "--commit", commit, "--source", str(world.work))
    assert promoted["plan"]["source"] == version  # type: ignore[index]
    assert world.digests(BASE) == {a: pushed[a].digest for a in APPS}
    assert world.git_tags()[BASE] == commit
    final = next(r for r in world.github.releases.values() if r["tag_name"] == BASE)
    assert final["body"] == NOTES
    assert world.github.latest_release_id == final["id"]


def test_text_output_for_people(world: ReleaseWorld) -> None:
    commit = world.commit()
    result = run_cli(
        [*world.cli_options(), "reserve", "--commit", commit, "--base-version", BASE],
        env=world.env(),
    )
    assert result.code == 0, result.all_output
    assert result.out.strip() == (
        f"Reserved {BASE}-staging.0 at {commit} (1 create call(s), in GitHub repository "
        f"{REPOSITORY} at {world.github.api_url})."
    )
    assert "Credentials: registry token" not in result.out  # progress is on stderr
    assert "GitHub API token from GITHUB_TOKEN" in result.err


def test_git_remote_skips_releases_and_says_so(world_factory: WorldFactory) -> None:
    world = world_factory("git")
    commit = monorepo_commit(world)
    env = world.env()
    del env["GITHUB_TOKEN"]  # a Git remote needs no API token
    options = world.cli_options()
    reserved = run_cli([*options, "reserve", "--commit", commit], env=env, cwd=world.work)
    assert reserved.code == 0, reserved.all_output
    result = run_cli(
        [*options, "release", "--tag", f"{BASE}-staging.0", "--commit", commit, "--prerelease"],
        env=env,
        cwd=world.work,
    )
    assert result.code == 0, result.all_output
    assert "skipped" in result.out
    assert "Git remote" in result.out
    assert world.github.requests == []


def test_release_notes_fallback_names_the_missing_file(world: ReleaseWorld) -> None:
    commit = monorepo_commit(world, changelog=False)
    world.github.repos.remote_tag_create(BASE, commit)
    result = run_cli(
        [*world.cli_options(), "--json", "release", "--tag", BASE, "--commit", commit],
        env=world.env(),
        cwd=world.work,
    )
    assert result.code == 0, result.all_output
    body = world.github.releases[1001]["body"]
    assert CHANGELOG in body
    assert result.json()["notes"]["found"] is False
    # The tag is read once (to check it names the commit), not again by the create.
    assert len(world.github.requests_for("GET", f"/git/ref/tags/{BASE}")) == 1


def test_release_notes_from_a_source_directory(world: ReleaseWorld, tmp_path: Path) -> None:
    commit = world.commit()
    (tmp_path / CHANGELOG).parent.mkdir(parents=True)
    (tmp_path / CHANGELOG).write_text("from the checkout\n")
    result = run_cli(
        [*world.cli_options(), "release", "--tag", BASE, "--commit", commit],
        env=world.env(),
        cwd=tmp_path,
    )
    assert result.code == 2, result.all_output  # no Git repository here: say so
    assert "--source" in result.err
    result = run_cli(
        [
            *world.cli_options(),
            "release",
            "--tag",
            BASE,
            "--commit",
            commit,
            "--source",
            str(tmp_path),
        ],
        env=world.env(),
    )
    assert result.code == 0, result.all_output
    assert world.github.releases[1001]["body"] == "from the checkout\n"
    # Idempotent by tag: again leaves it; --update rewrites the body.
    (tmp_path / CHANGELOG).write_text("edited\n")
    again = [*world.cli_options(), "release", "--tag", BASE, "--commit", commit]
    again += ["--source", str(tmp_path)]
    assert "left as it is" in run_cli(again, env=world.env()).out
    assert world.github.releases[1001]["body"] == "from the checkout\n"
    assert run_cli([*again, "--update"], env=world.env()).code == 0
    assert world.github.releases[1001]["body"] == "edited\n"
    assert len(world.github.releases) == 1


def test_a_failed_check_exits_1_and_lists_every_problem(world: ReleaseWorld) -> None:
    world.push_build("9.9.9-staging.1", None, apps=APPS[:2])
    result = run_cli(
        [*world.cli_options(), "verify", "--version", "9.9.9-staging.1"], env=world.env()
    )
    assert result.code == 1
    assert "\nerror: Verification of 9.9.9-staging.1 failed for 4 tag(s):\n" in result.err
    assert result.err.count(" does not exist.") == 4
    assert "Fix: " in result.err


def test_global_options_work_before_and_after_the_command(world: ReleaseWorld) -> None:
    world.push_build("1.0.0-staging.0", None)
    options = world.cli_options()
    after = run_cli(["verify", *options, "--version", "1.0.0-staging.0", "--json"], env=world.env())
    before = run_cli(
        [*options, "--json", "verify", "--version", "1.0.0-staging.0"], env=world.env()
    )
    assert after.code == before.code == 0
    assert after.json() == before.json()


def test_usage_errors_exit_2(world: ReleaseWorld) -> None:
    result = run_cli(["reserve", "--base-version", BASE], env=world.env())
    assert result.code == 2
    assert "--commit" in result.err
    assert "Fix: See '" in result.err
    assert " reserve --help' for the options" in result.err
    assert result.out == ""
    as_json = run_cli(["reserve", "--commit", "a" * 40, "--json", "--frobnicate"], env=world.env())
    assert as_json.code == 2
    error = as_json.json()["error"]
    assert "--frobnicate" in error["message"]
    assert error["exit_code"] == 2
    assert run_cli(["--help"], env=world.env()).code == 0


def test_every_command_is_registered() -> None:
    names = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert {
        "reserve",
        "discover",
        "verify",
        "move-floating",
        "release",
        "promote",
        "summary",
        "push-sample-images",
        "status",
        "rollback",
        "bump-version",
        "sync",
    } == names


@pytest.mark.parametrize("store", ["github", "git"])
def test_dry_runs_write_nothing_and_every_command_prints_one_json_document(
    store: str, world_factory: WorldFactory
) -> None:
    world = world_factory(store)
    commit = monorepo_commit(world)
    version = f"{BASE}-staging.0"
    world.github.repos.remote_tag_create(version, commit)
    world.push_build(version, commit, index_apps=("web",))
    options = world.cli_options()
    env = world.env()
    dry_runs = [
        ["reserve", "--commit", commit, "--dry-run"],
        ["reserve", "--commit", commit, "--version-override", f"{BASE}-staging.7", "--dry-run"],
        ["move-floating", "--version", version, "--float-tag", "staging", "--dry-run"],
        ["release", "--tag", version, "--commit", commit, "--prerelease", "--dry-run"],
        ["promote", "--commit", commit, "--dry-run"],
        ["rollback", "--float-tag", "staging", "--to", version, "--dry-run"],
    ]
    reads = [
        ["discover"],
        ["status"],
        ["verify", "--version", version],
        ["summary", "--version", version, "--format", "kustomize"],
    ]
    before = world.snapshot()
    documents: dict[str, dict[str, object]] = {}
    for args in dry_runs + reads:
        result = run_cli([*options, "--json", *args], env=env, cwd=world.work)
        assert result.code == 0, (args, result.all_output)
        documents[args[0] + ("-override" if "--version-override" in args else "")] = result.json()
    # No write of any kind: registry access log, emulator requests, Git tags.
    assert world.snapshot() == before
    assert world.digests("staging") == dict.fromkeys(APPS)
    assert documents["reserve"]["version"] == f"{BASE}-staging.1"
    assert documents["reserve-override"]["action"] == "planned"
    assert documents["move-floating"]["moved"] == list(APPS)
    assert documents["promote"]["git_tag"] == "planned"
    assert documents["discover"]["next_n"] == 1
    assert documents["rollback"]["moved"] == list(APPS)
    assert documents["status"]["pending_promotion"] == version
    if store == "git":
        assert documents["release"]["action"] == "skipped"
        assert world.github.requests == []
    else:
        assert documents["release"]["action"] == "planned"
        assert documents["release"]["reason"] == "would be created"


def test_kustomize_pins_are_valid_yaml_for_every_app(world: ReleaseWorld) -> None:
    version = f"{BASE}-staging.4"
    pushed = world.push_build(version, None, index_apps=("web",))
    result = run_cli(
        [*world.cli_options(), "summary", "--version", version, "--format", "kustomize"],
        env=world.env(),
    )
    assert result.code == 0, result.all_output
    pins = yaml.safe_load(result.out)
    assert pins == {
        "images": [
            {
                "name": f"{world.via.host}/{REPOSITORY}/{app}",
                "newTag": version,
                "digest": pushed[app].digest,
            }
            for app in APPS
        ]
    }


def test_a_local_os_error_is_one_sentence_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from metaboost_ci.cli import main as cli_main

    def unwritable(_: object) -> None:
        raise PermissionError(13, "Permission denied", "/results/summary.md")

    def register(sub: Any) -> None:
        sub.add_parser("explode").set_defaults(handler=unwritable)

    monkeypatch.setattr(cli_main.bump, "register", register)
    assert cli_main.main(["--json", "explode"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "error: /results/summary.md: Permission denied. Fix: Check that path" in captured.err
    assert json.loads(captured.out)["error"]["kind"] == "MetaboostCiError"


def test_promoting_an_older_version_says_latest_stays(world: ReleaseWorld) -> None:
    def staged(base: str, seed: int) -> str:
        commit = world.commit(f"release {base}")
        world.github.repos.remote_tag_create(f"{base}-staging.0", commit)
        world.push_build(f"{base}-staging.0", commit, seed=seed)
        return commit

    newer, older = staged("1.5.0", 300), staged(BASE, 301)
    source = ["--source", str(world.work)]  # the changelogs are read there
    promoted = [
        run_cli(
            [*world.cli_options(), "promote", "--commit", c, "--base-version", b, *source],
            env=world.env(),
        )
        for c, b in ((newer, "1.5.0"), (older, BASE))
    ]
    assert [r.code for r in promoted] == [0, 0], [r.all_output for r in promoted]
    assert promoted[0].out.startswith("Promoted 1.5.0-staging.0 to 1.5.0 and latest.")
    out = promoted[1].out
    assert out.startswith(f"Promoted {BASE}-staging.0 to {BASE}.\n")
    assert f"latest left as it is: 1.5.0 is a newer release than {BASE}" in out


@pytest.mark.parametrize("command", ["reserve", "promote"])
def test_a_dry_run_on_a_public_repository_needs_no_token(world: ReleaseWorld, command: str) -> None:
    # What `dagger call plan` runs: reads only, so GitHub's anonymous reads do.
    commit = world.commit()
    world.github.repos.remote_tag_create("0.1.0-staging.0", commit)
    world.push_build("0.1.0-staging.0", commit)
    world.github.private = False
    env = world.env()
    del env["GITHUB_TOKEN"]
    args = [*world.cli_options(), "--repository", REPOSITORY, "--json", command]
    args += ["--commit", commit, "--base-version", "0.1.0", "--dry-run"]
    before = world.snapshot()
    done = run_cli(args, env=env, cwd=world.work)
    assert done.code == 0, done.all_output
    assert world.snapshot() == before
    assert all(r.method == "GET" for r in world.github.requests)
    # Without --dry-run the token is still required, before any request.
    world.github.requests.clear()
    refused = run_cli([a for a in args if a != "--dry-run"], env=env, cwd=world.work)
    assert refused.code == 2, refused.all_output
    assert "GITHUB_TOKEN" in refused.err
    assert world.github.requests == []
