"""rehearse, run whole with no engine: every query valid, pushes to the service, CLI in order.

The stand-in plays the world: the sample apps answer the smoke probes, the
engine's pushes land in a dict that stands for the registry service, and the
``metaboost-ci`` commands in the tools container answer as the command line
does (the JSON of ``core.flows`` results), from that same dict.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError

from metaboost_ci.core.apps import DEFAULT_APPS
from metaboost_ci.core.errors import CheckFailed
from metaboost_ci.core.flows import (
    AppTags,
    Discovery,
    ImageRow,
    PublishSummary,
    ReleaseOutcome,
    Reservation,
    Verification,
)
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.engine.main import MetaboostCi
from metaboost_ci.engine.ops import KeptImage
from metaboost_ci.engine.pipeline import BuildPlan
from metaboost_ci.engine.publish import kept_images
from metaboost_ci.engine.rehearse import (
    DIGEST_FILE,
    REMOTE_DIR,
    TARBALL,
    SkopeoPusher,
    registry_service,
    rehearsal_target,
    run_rehearsal,
    tools_container,
)
from metaboost_ci.engine.smoke import SmokeOptions
from metaboost_ci.engine.tools import (
    PROJECT_FILES,
    UV_VERSION,
    Cli,
    CliOps,
)
from tests.support.dagger_offline import (
    REPO,
    Call,
    ExecFailure,
    PlayedApps,
    StandInSession,
    args_of,
    chain,
    env_of,
    execs,
)
from tests.test_engine_bump import SampleFiles

SHA = "89abcdef0123456789abcdef0123456789abcdef"
REPOSITORY = "rehearsal/metaboost"
# The release commands a rehearsal runs, in the order of a release.
RELEASE_COMMANDS = [
    "reserve",
    "discover",
    "verify",
    "move-floating",
    "verify",
    "release",
    "promote",
]


def digest(app: str) -> str:
    return "sha256:" + (app.encode().hex() * 64)[:64]


@dataclass
class World:
    session: StandInSession
    # image name -> tag -> digest: the registry service's content
    registry: dict[str, dict[str, str]] = field(default_factory=lambda: {})
    git_tags: dict[str, str] = field(default_factory=lambda: {})
    cli: list[list[str]] = field(default_factory=lambda: [])
    pushes: list[list[Call]] = field(default_factory=lambda: [])

    def __post_init__(self) -> None:
        self.apps = PlayedApps(self.session)
        self.files = SampleFiles(self.session)
        self.session.respond("Container.stdout", self.stdout)
        self.session.respond("Container.publish", self.publish)

    def publish(self, calls: list[Call]) -> str:
        self.pushes.append(calls)
        address = calls[-1].args["address"]
        name, _, tag = address.removeprefix("localhost:5000/").partition(":")
        app = name.rsplit("/", 1)[1]
        self.registry.setdefault(name, {})[tag] = digest(app)
        return f"{address}@{digest(app)}"

    def stdout(self, calls: list[Call]) -> str:
        if self.apps.is_probe(calls):
            return self.apps.stdout(calls)
        command = execs(calls)[-1]
        if command == ["git", "rev-parse", "HEAD"]:
            return SHA + "\n"
        if command[:3] == ["git", "ls-remote", "--tags"]:
            return "".join(
                f"{sha}\trefs/tags/{tag}\n" for tag, sha in sorted(self.git_tags.items())
            )
        assert command[0] == "metaboost-ci", command
        return json.dumps(self.command(command[1:]))

    def option(self, argv: list[str], name: str) -> str | None:
        return argv[argv.index(name) + 1] if name in argv else None

    def command(self, argv: list[str]) -> dict[str, Any]:
        assert argv[:9] == [
            "--registry",
            "http://registry:5000",
            "--repository",
            REPOSITORY,
            "--apps",
            ",".join(DEFAULT_APPS),
            "--git-remote",
            REMOTE_DIR,
            "--json",
        ]
        name, args = argv[9], argv[10:]
        self.cli.append([name, *args])
        version = self.option(args, "--version")
        images = {app: self.registry.get(f"{REPOSITORY}/{app}", {}) for app in DEFAULT_APPS}
        if name == "reserve":
            base = str(self.option(args, "--base-version"))
            commit = str(self.option(args, "--commit"))
            self.git_tags[f"{base}-staging.0"] = commit
            return Reservation(
                version=f"{base}-staging.0",
                base=base,
                n=0,
                commit=commit,
                action="created",
                hint=0,
                registry_hint="read",
                store=REMOTE_DIR,
                attempts=1,
            ).to_dict()
        if name == "discover":
            found = {
                a: AppTags(
                    app=a, exists=bool(t), tags=(), staging=(0,) if "0.1.0-staging.0" in t else ()
                )
                for a, t in images.items()
            }
            return Discovery(base="0.1.0", apps=found).to_dict()
        if name == "verify":
            float_tag = self.option(args, "--float-tag")
            for tags in images.values():
                assert version in tags
                assert float_tag is None or tags[float_tag] == tags[str(version)]
            digests = {a: t[str(version)] for a, t in images.items()}
            return Verification(
                version=str(version), float_tag=float_tag, digests=digests
            ).to_dict()
        if name == "move-floating":
            for tags in images.values():
                tags[str(self.option(args, "--float-tag"))] = tags[str(version)]
            return {}
        if name == "release":
            return ReleaseOutcome(
                tag=str(self.option(args, "--tag")),
                action="skipped",
                prerelease="--prerelease" in args,
                reason="skipped: no release API",
            ).to_dict()
        if name == "promote":
            base = str(self.option(args, "--base-version"))
            for tags in images.values():
                tags[base] = tags["latest"] = tags[f"{base}-staging.0"]
            self.git_tags[base] = SHA
            rows = tuple(
                ImageRow(a, f"registry:5000/{REPOSITORY}/{a}", (base, "latest"), t[base])
                for a, t in images.items()
            )
            return {"git_tag": "created", "summary": PublishSummary(base, rows, "latest").to_dict()}
        raise AssertionError(f"unexpected command {name}")


def plan() -> BuildPlan:
    return BuildPlan(
        source=dag.directory(),
        apps=DEFAULT_APPS,
        platforms=["linux/amd64"],
        repository=REPOSITORY,
        smoke=SmokeOptions(stay_seconds=1, run_id="r1"),
        run_id="r1",
    )


async def test_rehearsal_runs_staging_then_main_against_the_session_registry(
    dagger_standin: StandInSession,
) -> None:
    world = World(dagger_standin)
    report = await run_rehearsal(
        plan(), module_source=dag.directory(), progress=RecordingProgress()
    )
    assert [c[0] for c in world.cli] == RELEASE_COMMANDS
    assert world.cli[0] == ["reserve", "--commit", SHA, "--base-version", "0.1.0"]
    # Every app pushed once, by the engine, to localhost:5000 dialled to the started service.
    addresses = sorted(p[-1].args["address"] for p in world.pushes)
    assert addresses == sorted(
        f"localhost:5000/{REPOSITORY}/{a}:0.1.0-staging.0" for a in DEFAULT_APPS
    )
    ends = [{(c[-1].type_name, c[-1].field) for c in q.leaves} for q in dagger_standin.queries]
    [started] = [i for i, e in enumerate(ends) if ("Service", "start") in e]
    [stopped] = [i for i, e in enumerate(ends) if ("Service", "stop") in e]
    pushed = [i for i, e in enumerate(ends) if ("Container", "publish") in e]
    assert started < min(pushed) <= max(pushed) < stopped == len(ends) - 1
    for push in world.pushes:
        service = dagger_standin.origin(push[-1].args["registryService"])
        assert args_of(service, "from") == [{"address": "registry:2"}]
        assert env_of(service)["METABOOST_CI_REHEARSAL"] == "r1"
    # The tag store saw both tags; the report says so and shows both summaries.
    assert set(world.git_tags) == {"0.1.0-staging.0", "0.1.0"}
    assert "### Published 0.1.0-staging.0" in report
    assert "### Published 0.1.0\n" in report
    assert "0.1.0-staging.0\n0.1.0" in report or "0.1.0\n0.1.0-staging.0" in report


async def test_each_command_runs_on_the_state_the_previous_one_left(
    dagger_standin: StandInSession,
) -> None:
    world = World(dagger_standin)
    await run_rehearsal(plan(), module_source=dag.directory(), progress=RecordingProgress())
    cli_chains = [
        c
        for c in dagger_standin.leaves("Container.stdout")
        if execs(c) and execs(c)[-1][0] == "metaboost-ci"
    ]
    commands = [[e[10] for e in execs(c) if e[0] == "metaboost-ci"] for c in cli_chains]
    # The n-th command's container holds the n-1 before it: the Git remote's state carries.
    assert commands == [[c[0] for c in world.cli[: i + 1]] for i in range(len(world.cli))]


def test_the_tools_container_installs_this_project_from_its_lock_and_binds_the_registry() -> None:
    registry = registry_service("r2")
    module_source = dag.directory().with_new_file("pyproject.toml", "")
    calls = chain(tools_container(module_source, dag.directory(), registry, "r2"))
    names = [name for name, _ in calls]
    assert calls[1] == ("from", {"address": "python:3.11-slim"})
    project, monorepo = [args for name, args in calls if name == "withDirectory"]
    assert (project["path"], project["source"], project["include"]) == (
        "/opt/metaboost-ci",
        module_source,
        PROJECT_FILES,
    )
    assert "uv.lock" in PROJECT_FILES
    assert monorepo["path"] == "/work/monorepo"
    installs = [args["args"] for name, args in calls if name == "withExec"]
    assert "git" in installs[0][-1]
    assert installs[1][-1] == f"uv=={UV_VERSION}"
    # The locked dependencies, exactly: a stale lock fails instead of resolving anew.
    assert installs[2][:4] == ["uv", "sync", "--locked", "--no-dev"]
    assert installs[3][:2] == ["sh", "-c"]
    assert f"git init -q --bare {REMOTE_DIR}" in installs[3][-1]
    # The run id comes before the repositories are made: a new run never reuses them.
    run_id = calls.index(("withEnvVariable", {"name": "METABOOST_CI_REHEARSAL", "value": "r2"}))
    assert run_id < names.index("withExec", names.index("withDirectory", run_id))
    assert ("withServiceBinding", {"alias": "registry", "service": registry}) in calls


async def test_a_failing_command_is_reported_with_its_message(
    dagger_standin: StandInSession,
) -> None:
    def stdout(calls: list[Call]) -> str:
        raise ExecFailure(
            execs(calls)[-1],
            1,
            stderr="error: Git tag 0.1.0-staging.0 already exists at commit abc.",
        )

    dagger_standin.respond("Container.stdout", stdout)
    ops = CliOps(Cli(dag.container(), rehearsal_target(REPOSITORY, DEFAULT_APPS), "r1"))
    with pytest.raises(CheckFailed) as failed:
        await ops.reserve(commit=SHA, base="0.1.0", override="0.1.0-staging.0", dry_run=False)
    assert "metaboost-ci reserve failed with exit code 1" in str(failed.value)
    assert failed.value.problems == ["error: Git tag 0.1.0-staging.0 already exists at commit abc."]


def kept_world(session: StandInSession, revisions: dict[str, list[str]]) -> list[list[str]]:
    """The command line as CliOps.present sees it: api and web have staging.3 (with
    ``revisions``), worker does not. Returns the argv of each command run."""
    staging = {"api": (0, 3), "web": (3,), "worker": (0,)}
    apps = {a: AppTags(app=a, exists=True, tags=(), staging=n) for a, n in staging.items()}
    found = Discovery(base="0.1.0", apps=apps).to_dict()
    seen: list[list[str]] = []

    def stdout(calls: list[Call]) -> str:
        argv = execs(calls)[-1][10:]
        seen.append(argv)
        if argv[0] == "discover":
            return json.dumps(found)
        assert argv[0] == "verify"
        apps = str(argv[argv.index("--apps") + 1]).split(",")
        digests = {a: digest(a) for a in apps}
        version = str(argv[argv.index("--version") + 1])
        revisions_of = {a: revisions[a] for a in apps}
        verified = Verification(
            version=version, float_tag=None, digests=digests, revisions=revisions_of
        )
        return json.dumps(verified.to_dict())

    session.respond("Container.stdout", stdout)
    return seen


async def test_cli_ops_read_the_revisions_of_the_kept_apps_only(
    dagger_standin: StandInSession,
) -> None:
    seen = kept_world(dagger_standin, {"api": [SHA], "web": [SHA, ""]})
    ops = CliOps(Cli(dag.container(), rehearsal_target(REPOSITORY, ("api", "web", "worker")), "r1"))
    assert await ops.present(version="0.1.0-staging.3") == [
        KeptImage("api", (SHA,)),
        KeptImage("web", (SHA, "")),
    ]
    # verify is asked about the apps that have the tag, not all of them (it would fail).
    assert ops.commands == [
        ["discover", "--base-version", "0.1.0"],
        ["verify", "--apps", "api,web", "--version", "0.1.0-staging.3", "--revisions"],
    ]
    assert [argv[0] for argv in seen] == ["discover", "verify"]


async def test_cli_ops_run_no_verify_when_no_app_has_the_version(
    dagger_standin: StandInSession,
) -> None:
    kept_world(dagger_standin, {})
    ops = CliOps(Cli(dag.container(), rehearsal_target(REPOSITORY, ("api", "web", "worker")), "r1"))
    assert await ops.present(version="0.1.0-staging.7") == []
    assert ops.commands == [["discover", "--base-version", "0.1.0"]]


async def test_a_kept_image_from_another_commit_is_refused_through_the_command_line(
    dagger_standin: StandInSession,
) -> None:
    other = "0123456789abcdef0123456789abcdef01234567"
    kept_world(dagger_standin, {"api": [SHA], "web": [SHA, other]})
    ops = CliOps(Cli(dag.container(), rehearsal_target(REPOSITORY, ("api", "web", "worker")), "r1"))
    pusher = SkopeoPusher(dag.container(), REPOSITORY)
    with pytest.raises(CheckFailed) as refused:
        await kept_images(ops, pusher, version="0.1.0-staging.3", commit=SHA)
    # Only web is refused (one of its images is another commit's); api is proven.
    assert refused.value.problems == [
        f"registry:5000/{REPOSITORY}/web:0.1.0-staging.3 was built from {other}, not {SHA}."
    ]
    # The same answers with this commit everywhere: both kept, nothing refused.
    kept_world(dagger_standin, {"api": [SHA], "web": [SHA, SHA]})
    assert await kept_images(ops, pusher, version="0.1.0-staging.3", commit=SHA) == {"api", "web"}


async def test_the_function_rehearses_the_sample_shipped_with_the_module(
    dagger_standin: StandInSession,
) -> None:
    World(dagger_standin)
    report = await MetaboostCi(source=dag.directory()).rehearse()
    builds = [c for c in dagger_standin.leaves("Container.sync") if args_of(c, "dockerBuild")]
    assert len(builds) == len(DEFAULT_APPS)
    for calls in builds:
        fields = [c.field for c in calls]
        context = fields[: fields.index("dockerBuild")]
        assert context == ["currentModule", "source", "directory"]
        assert args_of(calls, "directory") == [{"path": "sample"}]
    assert "rehearsal/metaboost" in report


async def test_the_skopeo_fallback_pushes_tarballs_from_the_tools_container(
    dagger_standin: StandInSession,
) -> None:
    world = World(dagger_standin)
    sample_contents = dagger_standin.responders["File.contents"]
    copies: list[list[Call]] = []

    def contents(calls: list[Call]) -> str:
        if args_of(calls, "file")[-1]["path"] != DIGEST_FILE:
            return sample_contents(calls)
        copies.append(calls)
        target = execs(calls)[-1][-1].removeprefix("docker://registry:5000/")
        name, _, tag = target.partition(":")
        world.registry.setdefault(name, {})[tag] = digest(name.rsplit("/", 1)[1])
        return world.registry[name][tag] + "\n"

    dagger_standin.respond("File.contents", contents)
    report = await run_rehearsal(
        plan(), module_source=dag.directory(), progress=RecordingProgress(), push_with="skopeo"
    )
    assert world.pushes == []  # nothing through Container.publish
    assert len(copies) == len(DEFAULT_APPS)
    for calls in copies:
        skopeo = execs(calls)[-1]
        assert skopeo[:3] == ["skopeo", "copy", "--all"]
        assert skopeo[-2] == f"oci-archive:{TARBALL}"
        assert skopeo[-1].startswith(f"docker://registry:5000/{REPOSITORY}/")
        [mounted] = args_of(calls, "withMountedFile")
        tarball = dagger_standin.origin(mounted["source"])
        assert tarball[-1].field == "asTarball"
        assert args_of(tarball, "dockerBuild"), "the tarball is the built image"
        # The copy runs in the tools container, bound to the registry service.
        assert [b["alias"] for b in args_of(calls, "withServiceBinding")] == ["registry"]
    assert "skopeo pushed to it as `registry:5000`" in report
    assert [c[0] for c in world.cli][-1] == "promote"


async def test_an_unknown_push_method_is_refused_before_any_query(
    dagger_standin: StandInSession,
) -> None:
    with pytest.raises(FunctionError, match="Choose from: engine, skopeo"):
        await MetaboostCi(source=dag.directory()).rehearse(push_with="crane")
    assert dagger_standin.queries == []


def test_the_files_the_tools_container_gets_are_enough_to_install_this_project(
    tmp_path: Path,
) -> None:
    """Build a wheel from only PROJECT_FILES, as `pip install` in the tools container does.

    hatchling needs the readme pyproject names and the package folder; a file
    missing from PROJECT_FILES fails the build here as it would in the engine.
    """
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    chosen = [p for p in tracked if p and any(fnmatch(p, pattern) for pattern in PROJECT_FILES)]
    assert project["readme"] in chosen
    source = tmp_path / "project"
    for path in chosen:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, source / path)
    # No network: the venv's hatchling (the build backend) builds it.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "out"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "out").glob("metaboost_ci-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points).decode()
    assert {"metaboost_ci/cli/main.py", "metaboost_ci/engine/main.py"} <= names
    assert "metaboost-ci = metaboost_ci.cli.main:main" in declared
