"""``metaboost-ci bump-version`` and ``sync`` end to end, against real Git remotes.

The monorepo is Metaboost-shaped: globbed and nested sidecar workspaces, and
a lockfile with workspace entries and ``node_modules`` entries. By default
bump-version edits the lockfile's versions in place, with no Dagger CLI on
PATH. The Dagger CLI cannot run here (no engine), so ``--regenerate-lockfile``
is checked with a stand-in ``dagger`` executable on PATH that records its
arguments and writes the file where ``export --path`` says; the real call is
covered by the engine tests. Everything else is real: files, git, a bare repository.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path

import pytest

from metaboost_ci.cli.main import main
from tests.support.branches import BranchRepos

ROOT = '{\n    "name": "metaboost",\n    "version": "0.1.0",\n    "private": true,\n    "workspaces": ["apps/*", "apps/web/sidecar", "packages/**"]\n}\n'  # noqa: E501
API = '{"version":"0.1.0","name":"api","scripts":{"start":"node ."}}'
WEB = '{\n  "name": "@mb/web",\n  "version": "0.1.0"\n}\n'
SIDECAR = '{\n  "name": "@mb/web-sidecar",\n  "version": "0.1.0"\n}\n'
LIB = '{\r\n\t"name": "@mb/lib",\r\n\t"dependencies": {"version": "1.0.0"}\r\n}\r\n'


def lockfile(root: str, workspace: str) -> str:
    """npm's package-lock.json of the fixture; ``root``/``workspace``: their versions there.

    The ``node_modules`` entries are the workspaces' links and a dependency
    whose version happens to equal the old one: neither may change.
    """
    return f"""{{
  "name": "metaboost",
  "version": "{root}",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {{
    "": {{
      "name": "metaboost",
      "version": "{root}",
      "workspaces": [
        "apps/*",
        "apps/web/sidecar",
        "packages/**"
      ]
    }},
    "apps/api": {{
      "name": "api",
      "version": "{workspace}",
      "dependencies": {{
        "tiny-dep": "^0.1.0"
      }}
    }},
    "apps/web": {{
      "name": "@mb/web",
      "version": "{workspace}"
    }},
    "apps/web/sidecar": {{
      "name": "@mb/web-sidecar",
      "version": "{workspace}"
    }},
    "node_modules/@mb/lib": {{
      "resolved": "packages/util/lib",
      "link": true
    }},
    "node_modules/@mb/web": {{
      "resolved": "apps/web",
      "link": true
    }},
    "node_modules/api": {{
      "resolved": "apps/api",
      "link": true
    }},
    "node_modules/tiny-dep": {{
      "version": "0.1.0",
      "resolved": "https://registry.npmjs.org/tiny-dep/-/tiny-dep-0.1.0.tgz",
      "license": "MIT"
    }},
    "packages/util/lib": {{
      "name": "@mb/lib",
      "version": "{workspace}",
      "dependencies": {{
        "version": "1.0.0"
      }}
    }}
  }}
}}
"""


LOCK = lockfile("0.1.0", "0.1.0")
# What Metaboost's scripts/publish/bump-version.sh writes for 1.0.0.
CHANGELOG_1_0_0 = """\
# Changelog 1.0.0

_Update this file continuously during development for version 1.0.0._

## Highlights

- Add notable changes for this version.
"""


@pytest.fixture
def mono(branch_repos: BranchRepos, monkeypatch: pytest.MonkeyPatch) -> BranchRepos:
    """develop checked out, with workspaces in odd formats and a lockfile, all pushed."""
    r = branch_repos
    r.git("checkout", "-q", "develop")
    files = {
        "package.json": ROOT,
        "apps/api/package.json": API,
        "apps/web/package.json": WEB,
        "apps/web/sidecar/package.json": SIDECAR,
        "packages/util/lib/package.json": LIB,
        "package-lock.json": LOCK,
    }
    for path, text in files.items():
        (r.work / path).parent.mkdir(parents=True, exist_ok=True)
        (r.work / path).write_bytes(text.encode())
    r.git("add", *files)
    r.git("commit", "-q", "-m", "workspaces")
    r.git("push", "-q", "origin", "develop")
    # No dagger, no npm unless a test puts a stand-in first on PATH.
    path = [d for d in os.environ["PATH"].split(os.pathsep) if not _has(d, "dagger")]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    return r


def _has(directory: str, name: str) -> bool:
    return os.access(os.path.join(directory, name), os.X_OK)


def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(f"#!{sys.executable}\nimport json, os, sys, pathlib\n{body}")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir / f"{name}.log"


FAKE_DAGGER = """
log = pathlib.Path(__file__).with_suffix(".log")
args = sys.argv[1:]
source = next(a.split("=", 1)[1] for a in args if a.startswith("--source="))
seen = json.loads(pathlib.Path(source, "package.json").read_text())["version"]
log.write_text(json.dumps({"args": args, "version_seen": seen, "cwd": os.getcwd()}))
path = next(a.split("=", 1)[1] for a in args if a.startswith("--path="))
pathlib.Path(path).write_text('{"lockfileVersion": 3, "regenerated": true}\\n')
sys.exit(int(os.environ.get("FAKE_DAGGER_EXIT", "0")))
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def bump_offline(
    capsys: pytest.CaptureFixture[str], repos: BranchRepos, *argv: str
) -> tuple[int, str, str]:
    """``bump-version ARGV`` on ``repos``' work tree, running neither npm audit nor dagger."""
    source = ("--source", str(repos.work))
    return run(capsys, "bump-version", *argv, *source, "--skip-audit", "--skip-lockfile")


def committed_files(r: BranchRepos) -> set[str]:
    return set(r.git("show", "--name-only", "--format=", "HEAD").splitlines())


# ------------------------------------------------------------ bump-version


def test_bump_version_edits_commits_exactly_those_files_and_pushes(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    r = mono
    (r.work / "unrelated.txt").write_text("staged, not part of the bump\n")
    r.git("add", "unrelated.txt")
    (r.work / "scratch.txt").write_text("untracked\n")

    # No Dagger CLI on PATH (the fixture sees to it): none is needed.
    code, out, err = run(capsys, "bump-version", "1.0.0", "--source", str(r.work), "--skip-audit")

    assert code == 0, err
    assert r.git("log", "-1", "--format=%s") == "chore: bump version to 1.0.0"
    assert committed_files(r) == {
        "package.json",
        "apps/api/package.json",
        "apps/web/package.json",
        "apps/web/sidecar/package.json",
        "packages/util/lib/package.json",
        "docs/development/CHANGELOGS/1.0.0.md",
        "package-lock.json",
    }
    assert (r.work / "package.json").read_bytes() == ROOT.replace("0.1.0", "1.0.0").encode()
    assert (r.work / "apps/api/package.json").read_bytes() == API.replace("0.1.0", "1.0.0").encode()
    assert (r.work / "apps/web/sidecar/package.json").read_bytes() == (
        SIDECAR.replace("0.1.0", "1.0.0").encode()
    )
    assert (r.work / "packages/util/lib/package.json").read_bytes() == (
        b'{\r\n\t"name": "@mb/lib",\r\n\t"version": "1.0.0",\r\n'
        b'\t"dependencies": {"version": "1.0.0"}\r\n}\r\n'
    )
    changelog = r.work / "docs/development/CHANGELOGS/1.0.0.md"
    assert changelog.read_bytes() == CHANGELOG_1_0_0.encode()
    # Versions only: the links and tiny-dep's 0.1.0 stay, byte for byte.
    assert (r.work / "package-lock.json").read_bytes() == lockfile("1.0.0", "1.0.0").encode()
    assert r.remote_sha("develop") == r.local_sha("develop")
    assert r.git("diff", "--cached", "--name-only") == "unrelated.txt"
    assert "?? scratch.txt" in r.git("status", "--porcelain")
    assert "created from Metaboost's format" in out
    assert re.search(r"\npackage-lock\.json +versions -> 1\.0\.0\n", out)
    assert "Lockfile: versions edited in place (the root and 4 workspace entries" in out
    assert "Pushed: develop" in out


def test_regenerate_lockfile_runs_the_dagger_lockfile_function(
    mono: BranchRepos,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = mono
    log = stand_in(tmp_path, monkeypatch, "dagger", FAKE_DAGGER)
    code, out, err = run(
        capsys, "bump-version", "1.0.0", "--source", str(r.work), "--skip-audit",
        "--regenerate-lockfile", "--module", "github.com/example/metaboost-ci@v1",
    )  # fmt: skip
    assert code == 0, err
    assert "package-lock.json" in committed_files(r)
    assert "regenerated" in (r.work / "package-lock.json").read_text()
    called = json.loads(log.read_text())
    assert called["version_seen"] == "1.0.0"  # the lockfile sees the new versions
    assert Path(called["cwd"]).resolve() == r.work.resolve()
    assert called["args"] == [
        "call", "-m", "github.com/example/metaboost-ci@v1", "--source=.",
        "lockfile",
        "export", "--path=package-lock.json",
    ]  # fmt: skip
    assert "Lockfile: regenerated through Dagger" in out
    assert re.search(r"\npackage-lock\.json +regenerated\n", out)


def test_the_repositorys_changelog_template_is_used(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    r = mono
    template = r.work / "docs/development/CHANGELOGS/TEMPLATE.md"
    template.parent.mkdir(parents=True)
    template.write_text("# {{version}}\n\nOur own words for {{version}}.\n")
    r.git("add", str(template))
    r.git("commit", "-q", "-m", "changelog template")
    code, out, err = bump_offline(capsys, r, "0.2.0", "--no-push")
    assert code == 0, err
    written = (r.work / "docs/development/CHANGELOGS/0.2.0.md").read_text()
    assert written == "# 0.2.0\n\nOur own words for 0.2.0.\n"
    assert "created from docs/development/CHANGELOGS/TEMPLATE.md" in out


def test_a_lockfile_without_a_workspaces_entry_is_refused_before_any_change(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    r = mono
    stale = LOCK.replace('"apps/web/sidecar": {', '"apps/web/old-sidecar": {')
    (r.work / "package-lock.json").write_text(stale)
    r.git("commit", "-q", "-am", "a lockfile from before the sidecar")
    before = r.snapshot()
    code, _, err = run(
        capsys, "bump-version", "1.0.0", "--source", str(r.work), "--skip-audit", "--no-push"
    )
    assert code == 2
    assert "package-lock.json has no entry for apps/web/sidecar" in err
    assert "--regenerate-lockfile" in err
    assert r.snapshot() == before


def test_no_push_commits_locally_only(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    r = mono
    remote_before = r.remote_sha("develop")
    code, out, err = run(
        capsys, "--json", "bump-version", "0.2.0", "--source", str(r.work), "--skip-audit",
        "--skip-lockfile", "--no-push",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["pushed"] is False
    assert data["commit"] == r.local_sha("develop")
    assert r.remote_sha("develop") == remote_before
    assert "package-lock.json" not in committed_files(r)


def test_skip_lockfile_says_so_and_needs_no_dagger(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = bump_offline(capsys, mono, "0.2.0")
    assert code == 0, err
    assert "package-lock.json: NOT changed (--skip-lockfile)" in err
    assert "Lockfile: NOT changed (--skip-lockfile)" in out
    assert (mono.work / "package-lock.json").read_text() == LOCK
    # The command it names is the one the module answers (see lockfile_command).
    assert "`dagger call --source=. lockfile export --path=package-lock.json`" in out
    assert mono.remote_sha("develop") == mono.local_sha("develop")


def test_missing_dagger_is_refused_before_any_change(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    before = mono.snapshot()
    code, _, err = run(
        capsys, "bump-version", "1.0.0", "--source", str(mono.work), "--skip-audit",
        "--regenerate-lockfile",
    )  # fmt: skip
    assert code == 2
    assert "The Dagger CLI (dagger) is not on PATH" in err
    assert "Install the Dagger CLI" in err
    assert "leave out --regenerate-lockfile" in err
    assert mono.snapshot() == before


def test_failed_lockfile_restores_the_files(
    mono: BranchRepos,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stand_in(tmp_path, monkeypatch, "dagger", FAKE_DAGGER)
    monkeypatch.setenv("FAKE_DAGGER_EXIT", "1")  # after clobbering the lockfile
    before = mono.snapshot()
    code, _, err = run(
        capsys, "bump-version", "1.0.0", "--source", str(mono.work), "--skip-audit",
        "--regenerate-lockfile", "--module", "m",
    )  # fmt: skip
    assert code == 1
    assert "the version edits were undone" in err
    assert "package-lock.json" in err
    assert mono.snapshot() == before
    assert not (mono.work / "docs").exists()


def test_prompts_for_the_version_on_a_terminal(
    mono: BranchRepos, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("0.3.0\n"))
    code, _, err = bump_offline(capsys, mono, "--no-push")
    assert code == 0, err
    assert "Current version: 0.1.0" in err
    assert "New version (X.Y.Z)" in err
    assert mono.git("log", "-1", "--format=%s") == "chore: bump version to 0.3.0"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_version_without_a_terminal_is_refused(
    mono: BranchRepos, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("0.3.0\n"))
    before = mono.snapshot()
    code, _, err = run(capsys, "bump-version", "--source", str(mono.work), "--skip-lockfile")
    assert code == 2
    assert "stdin is not a terminal" in err
    assert "metaboost-ci bump-version X.Y.Z" in err
    assert mono.snapshot() == before


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0-rc.1", "01.0.0"])
def test_invalid_versions_are_refused(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str], version: str
) -> None:
    before = mono.snapshot()
    code, _, err = run(
        capsys, "bump-version", version, "--source", str(mono.work), "--skip-lockfile"
    )
    assert code == 2
    assert "not of the form X.Y.Z" in err
    assert mono.snapshot() == before


def test_a_downgrade_is_refused_unless_allowed(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    before = mono.snapshot()
    code, _, err = bump_offline(capsys, mono, "0.0.9", "--no-push")
    assert code == 2
    assert "0.0.9 is lower than the current version 0.1.0: that is a downgrade" in err
    assert "--allow-downgrade" in err
    assert mono.snapshot() == before
    code, _, err = bump_offline(capsys, mono, "0.0.9", "--no-push", "--allow-downgrade")
    assert code == 0, err
    assert mono.git("log", "-1", "--format=%s") == "chore: bump version to 0.0.9"


@pytest.mark.parametrize("where", ["local", "remote"])
def test_a_version_whose_git_tag_exists_is_refused(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    r = mono
    if where == "local":
        r.git("tag", "0.2.0")
    else:  # released by CI: the tag is on the remote only
        r.git("push", "-q", "origin", "HEAD:refs/tags/0.2.0")
    before = r.snapshot()
    code, _, err = bump_offline(capsys, r, "0.2.0")
    assert code == 2
    expected = "in this clone" if where == "local" else "on origin"
    assert f"The Git tag 0.2.0 already exists {expected}: 0.2.0 was released already" in err
    assert r.snapshot() == before
    code, _, err = bump_offline(capsys, r, "0.2.0", "--allow-downgrade")
    assert code == 0, err


def test_an_existing_changelog_is_kept_and_not_committed(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    r = mono
    notes = r.work / "docs/development/CHANGELOGS/0.2.0.md"
    notes.parent.mkdir(parents=True)
    notes.write_text("# 0.2.0\n\nwritten by hand\n")
    r.git("add", str(notes))
    r.git("commit", "-q", "-m", "notes")
    code, out, err = bump_offline(capsys, r, "0.2.0", "--no-push")
    assert code == 0, err
    assert notes.read_text() == "# 0.2.0\n\nwritten by hand\n"
    assert "docs/development/CHANGELOGS/0.2.0.md" not in committed_files(r)
    assert "(exists)" in out


def test_uncommitted_edits_to_the_files_are_refused(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    (mono.work / "apps/api/package.json").write_text(API + "\n")
    before = mono.snapshot()
    code, _, err = bump_offline(capsys, mono, "1.0.0")
    assert code == 1
    assert "apps/api/package.json" in err
    assert mono.snapshot() == before


def test_detached_head_cannot_be_pushed(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    mono.git("checkout", "-q", "--detach")
    before = mono.snapshot()
    code, _, err = bump_offline(capsys, mono, "1.0.0")
    assert code == 2
    assert "HEAD is detached" in err
    assert mono.snapshot() == before


def test_a_branch_behind_its_remote_is_refused_before_any_change(
    mono: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    mono.git("fetch", "-q", "origin", cwd=mono.other)
    mono.pull_other()
    mono.commit("develop", "pushed by a colleague", cwd=mono.other)
    mono.git("fetch", "-q", "origin")
    before = mono.snapshot()
    code, _, err = bump_offline(capsys, mono, "1.0.0")
    assert code == 1
    assert "develop cannot be pushed to origin" in err
    assert "git pull --ff-only origin develop" in err
    assert mono.snapshot() == before


def test_audit_gate_blocks_before_any_change(
    mono: BranchRepos,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = {
        "vulnerabilities": {
            "semver": {
                "via": [
                    {
                        "source": 1101088,
                        "name": "semver",
                        "title": "ReDoS",
                        "url": "https://github.com/advisories/GHSA-c2qf-rxjj-qqgw",
                        "severity": "high",
                    }
                ]
            }
        }
    }
    stand_in(tmp_path, monkeypatch, "npm", f"print(json.dumps({report!r}))\nsys.exit(1)\n")
    before = mono.snapshot()
    code, _, err = run(
        capsys, "bump-version", "1.0.0", "--source", str(mono.work), "--skip-lockfile"
    )
    assert code == 1
    assert "GHSA-c2qf-rxjj-qqgw high in semver" in err
    assert "auditAllowlist" in err
    assert mono.snapshot() == before


# -------------------------------------------------------------------- sync


def test_sync_prints_json(branch_repos: BranchRepos, capsys: pytest.CaptureFixture[str]) -> None:
    r = branch_repos
    code, out, err = run(
        capsys, "sync", "develop", "staging", "--source", str(r.work), "--skip-audit", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "fast-forwarded"
    assert data["target_after"] == r.remote_sha("develop") == r.remote_sha("staging")
    assert len(data["commits"]) == 2
    assert data["returned_to"] == "main"
    assert data["audit"] == "skipped (--skip-audit)"


def test_sync_prints_a_table(branch_repos: BranchRepos, capsys: pytest.CaptureFixture[str]) -> None:
    r = branch_repos
    code, out, err = run(capsys, "sync", "staging", "main", "--source", str(r.work), "--skip-audit")
    assert code == 0, err
    lines = out.splitlines()
    # A record of name and value, no empty header row above it.
    assert lines[0].split() == ["sync", "staging", "->", "main", "on", "origin"]
    assert lines[1].split() == ["status", "fast-forwarded"]
    assert lines[6].split() == ["audit", "skipped", "(--skip-audit)"]
    assert "staged feature" in out


def test_sync_develop_main_is_refused(
    branch_repos: BranchRepos, capsys: pytest.CaptureFixture[str]
) -> None:
    before = branch_repos.snapshot()
    code, _, err = run(capsys, "sync", "develop", "main", "--source", str(branch_repos.work))
    assert code == 2
    assert "main only advances from staging" in err
    assert branch_repos.snapshot() == before


def test_sync_untracked_needs_yes_without_a_terminal(
    branch_repos: BranchRepos, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    r = branch_repos
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    (r.work / "scratch.txt").write_text("x\n")
    before = r.snapshot()
    argv = ["sync", "develop", "staging", "--source", str(r.work), "--skip-audit"]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert "--yes" in err
    assert r.snapshot() == before
    code, out, err = run(capsys, *argv, "--yes")
    assert code == 0, err
    assert "fast-forwarded" in out


def test_sync_untracked_asks_on_a_terminal(
    branch_repos: BranchRepos, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    r = branch_repos
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    (r.work / "scratch.txt").write_text("x\n")
    before = r.snapshot()
    code, _, err = run(
        capsys, "sync", "develop", "staging", "--source", str(r.work), "--skip-audit"
    )
    assert code == 1
    assert "Go ahead anyway? [y/N]" in err
    assert r.snapshot() == before
