"""``rehearse``'s release, engine-free, on the six REAL sample images.

The Dagger ``rehearse`` function cannot run here (no engine), so this runs
what it runs, with the parts it uses, on the images buildah built for
tests/test_sample_images.py (the session's ``sample_images``, not built
again):

- the same order: ``publish.publish_staging`` then ``publish.publish_main``;
- the same commands: ``tools.CliOps`` itself (the one release path), over
  ``tests.support.local_cli.LocalCli``, which runs each ``metaboost-ci``
  command as a local process instead of in the tools container, with
  ``rehearsal_target``'s flags pointed at a real docker-registry and a bare
  Git repository (``--git-remote``) instead of the session's;
- the same labels: ``build.ImageMeta`` (revision = the commit, source,
  version = the reserved version, created), added as the engine adds them
  after the build (here ``FROM`` the sample image with ``--label``s: the
  same layers, a new config);
- pushes with ``buildah push``, which reports the digest the registry stored.

The sample is committed to the Git repository first, as rehearse commits
its monorepo, and its package.json gives the base version. Validation and
the smoke test are left out (the sample image tests run them on these very
images); everything from the reservation on is real.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metaboost_ci.core.apps import DEFAULT_APPS, image_name
from metaboost_ci.core.errors import CheckFailed
from metaboost_ci.core.flows import REVISION_LABEL, PublishSummary
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.core.versions import read_base_version
from metaboost_ci.engine.build import (
    LABEL_CREATED,
    LABEL_REVISION,
    LABEL_SOURCE,
    LABEL_VERSION,
    AppImage,
    ImageMeta,
    rfc3339_now,
    source_url,
)
from metaboost_ci.engine.publish import StagingRequest, StagingSteps, publish_main, publish_staging
from metaboost_ci.engine.rehearse import (
    DEFAULT_REPOSITORY,
    REMOTE_DIR,
    TOOLS_REGISTRY_URL,
    rehearsal_target,
)
from metaboost_ci.engine.tools import MONOREPO_DIR, CliOps
from tests.support.containers import (
    Buildah,
    SampleImages,
    require_buildah,
    sample_context,
    sample_tag,
)
from tests.support.gitrepo import GIT_ENV, GitRepos, make_repos
from tests.support.images import manifest_digest
from tests.support.local_cli import LocalCli, clean_env
from tests.support.registry_process import Registry, run_registry
from tests.support.release import Snapshot, successful_writes

APPS = DEFAULT_APPS
PLATFORM = "linux/amd64"


def local_cli(registry: Registry, git: GitRepos) -> LocalCli:
    """The rehearsal's command line, run here on the real registry and bare remote."""
    swap = {
        TOOLS_REGISTRY_URL: registry.url,
        REMOTE_DIR: str(git.bare),
        MONOREPO_DIR: str(git.work),
    }
    return LocalCli(
        rehearsal_target(DEFAULT_REPOSITORY, APPS),
        swap,
        git.work,
        # Like rehearse's tools container: no credentials, a Git identity.
        clean_env(GIT_ENV),
    )


class BuildahPusher:
    """A ``publish.Pusher``: ``buildah push`` of the labelled local images.

    One push at a time: the six images share all but their last layer, so the
    first push compresses and uploads the shared layers and the others mount
    them; six concurrent first pushes would each compress them again.
    """

    def __init__(self, buildah: Buildah, registry: Registry) -> None:
        self.buildah = buildah
        self.registry = registry
        # app -> the local (labelled) image to push; set by the build step.
        self.local: dict[str, str] = {}
        self.pushed: dict[tuple[str, str], str] = {}
        self._one_at_a_time = asyncio.Lock()

    def image(self, app: str) -> str:
        return f"{self.registry.host}/{image_name(DEFAULT_REPOSITORY, app)}"

    async def push(self, image: AppImage, tag: str) -> str:
        digest_file = self.buildah.home / f"digest-{image.app}-{tag}"
        async with self._one_at_a_time:
            await asyncio.to_thread(
                self.buildah.run,
                "push",
                "--tls-verify=false",
                "--digestfile",
                str(digest_file),
                self.local[image.app],
                f"docker://{self.image(image.app)}:{tag}",
                timeout=120,
            )
        digest = digest_file.read_text().strip()
        self.pushed[(image.app, tag)] = digest
        return digest


def label_image(buildah: Buildah, app: str, meta: ImageMeta, workdir: Path) -> str:
    """``app``'s sample image with ``meta``'s OCI labels, as a new local image.

    ``FROM`` the image plus ``--label``s: config only, no layer added, as the
    engine's ``with_label`` after ``docker_build``.
    """
    dockerfile = workdir / f"Dockerfile.{app}"
    dockerfile.write_text(f"FROM {sample_tag(app)}\n")
    labelled = f"localhost/metaboost-release/{app}:{meta.version}"
    flags = [f"--label={name}={value}" for name, value in meta.labels()]
    buildah.run(
        "bud",
        "--pull=never",
        "--layers",
        *flags,
        "-f",
        str(dockerfile),
        "-t",
        labelled,
        str(workdir),
    )
    return labelled


def commit_sample(git: GitRepos, sample: Path) -> str:
    """The sample as the monorepo's next commit on main, pushed; its SHA."""
    shutil.copytree(sample, git.work, dirs_exist_ok=True)
    git.git("add", "-A")
    git.git("commit", "-q", "-m", "The rehearsed monorepo")
    git.git("push", "-q", "origin", "HEAD:refs/heads/main")
    return git.git("rev-parse", "HEAD")


@dataclass
class Rehearsal:
    """One monorepo (sample committed, bare remote), the registry, and the ops over them."""

    buildah: Buildah
    registry: Registry
    git: GitRepos
    commit: str
    base: str
    ops: CliOps
    cli: LocalCli
    pusher: BuildahPusher
    workdir: Path

    def steps(self, revision_of: dict[str, str] | None = None) -> StagingSteps:
        """No validate or smoke (the sample image tests do those); the build is done: label.

        The labels (the version one included) are added once the version is
        reserved, as ``build.with_version`` adds the version label after the
        engine's build. ``revision_of`` overrides the revision label per app
        (another commit's build).
        """

        async def nothing(*_: object) -> list[str]:
            return []

        async def build() -> list[AppImage]:
            # The pusher pushes by app: no engine containers to carry.
            return [AppImage(app, (PLATFORM,), ()) for app in APPS]

        async def label(images: list[AppImage], version: str) -> list[AppImage]:
            for app in APPS:
                revision = (revision_of or {}).get(app, self.commit)
                meta = ImageMeta(revision, version, source_url(DEFAULT_REPOSITORY), rfc3339_now())
                self.pusher.local[app] = await asyncio.to_thread(
                    label_image, self.buildah, app, meta, self.workdir
                )
            return images

        return StagingSteps(validate=nothing, build=build, smoke=nothing, label=label)

    async def publish_staging(
        self, override: str | None = None, revision_of: dict[str, str] | None = None
    ) -> PublishSummary:
        return await publish_staging(
            StagingRequest(commit=self.commit, base=self.base, override=override),
            steps=self.steps(revision_of),
            pusher=self.pusher,
            ops=self.ops,
            progress=RecordingProgress(),
        )

    async def publish_main(self) -> PublishSummary:
        return await publish_main(
            commit=self.commit,
            base=self.base,
            dry_run=False,
            ops=self.ops,
            progress=RecordingProgress(),
        )

    def digest(self, app: str, tag: str) -> str | None:
        return manifest_digest(self.registry, image_name(DEFAULT_REPOSITORY, app), tag)

    def digests(self, tag: str) -> dict[str, str | None]:
        return {app: self.digest(app, tag) for app in APPS}

    def git_tags(self) -> dict[str, str]:
        return self.git.remote_tags()

    def snapshot(self) -> Snapshot:
        """Registry writes and Git tags so far (no GitHub here: releases are skipped)."""
        return Snapshot(successful_writes(self.registry), 0, self.git_tags(), 0)


def new_rehearsal(images: SampleImages, registry: Registry, root: Path) -> Rehearsal:
    git = make_repos(root / "git")
    sample = sample_context(root / "sample")
    workdir = root / "labels"
    workdir.mkdir()
    cli = local_cli(registry, git)
    return Rehearsal(
        images.buildah,
        registry,
        git,
        commit_sample(git, sample),
        read_base_version(sample),
        CliOps(cli),
        cli,
        BuildahPusher(images.buildah, registry),
        workdir,
    )


@pytest.fixture(scope="module")
def release_registry(sample_images: SampleImages) -> Iterator[Registry]:
    """One docker-registry for the module: the shared layers are uploaded once."""
    with run_registry("none") as registry:
        yield registry


@dataclass(frozen=True)
class Released:
    """``rehearse``'s sequence, run once: staging, the revisions, then main."""

    rehearsal: Rehearsal
    staging: PublishSummary
    revisions: dict[str, Any]
    main: PublishSummary
    commands: list[str]


@pytest.fixture(scope="module")
def released(
    sample_images: SampleImages,
    release_registry: Registry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Released:
    require_buildah()  # sample_images did, as tests/test_sample_images.py does

    async def run() -> Released:
        r = new_rehearsal(sample_images, release_registry, tmp_path_factory.mktemp("released"))
        staging = await r.publish_staging()
        revisions = await r.ops.run("verify", "--version", staging.version, "--revisions")
        main = await r.publish_main()
        return Released(r, staging, revisions, main, [c[0] for c in r.ops.commands])

    return asyncio.run(run())


def digests_of(summary: PublishSummary) -> dict[str, str]:
    return {row.app: row.digest for row in summary.images}


def test_staging_pushed_the_real_images_labelled_with_this_commit(released: Released) -> None:
    r, staging = released.rehearsal, released.staging
    version = f"{r.base}-staging.0"
    assert staging.version == version
    pushed = {app: r.pusher.pushed[(app, version)] for app in APPS}
    assert len(set(pushed.values())) == len(APPS)  # six images, each its own app layer
    assert digests_of(staging) == pushed
    assert r.digests(version) == r.digests("staging") == pushed
    # Read back from the registry: every image's revision label names the commit.
    assert released.revisions["digests"] == pushed
    assert released.revisions["revisions"] == {app: [r.commit] for app in APPS}
    for app in APPS:
        # The labels are config only: the pushed image is the sample image's layers.
        sample, labelled = (
            r.buildah.inspect(image) for image in (sample_tag(app), r.pusher.local[app])
        )
        assert labelled["OCIv1"]["rootfs"] == sample["OCIv1"]["rootfs"]
        labels = labelled["OCIv1"]["config"]["Labels"]
        assert labels[LABEL_REVISION] == r.commit
        assert labels[LABEL_VERSION] == version
        assert labels[LABEL_SOURCE] == source_url(DEFAULT_REPOSITORY)
        assert labels[LABEL_CREATED].endswith("Z")


def test_promotion_retags_the_staging_digests_and_tags_the_commit(released: Released) -> None:
    r, main = released.rehearsal, released.main
    version = released.staging.version
    pushed = digests_of(released.staging)
    assert main.version == r.base
    # Promotion re-tags, never rebuilds: the very digests staging pushed.
    assert digests_of(main) == pushed
    assert r.digests(r.base) == r.digests("latest") == pushed
    assert r.digests(version) == r.digests("staging") == pushed
    assert r.git_tags() == {version: r.commit, r.base: r.commit}
    assert f"Git tag {r.base}: created." in main.notes
    # The sequence rehearse runs through CliOps, in its order.
    assert released.commands == [
        "reserve",
        "discover",  # present(): is the version there already (kept, not pushed)?
        "verify",
        "move-floating",
        "verify",  # --float-tag staging
        "release",  # skipped: a Git remote has no releases
        "verify",  # this module's --revisions
        "promote",
    ]


async def test_a_second_promote_converges_on_the_same_digests_and_tags(
    released: Released,
) -> None:
    r = released.rehearsal
    pushed = digests_of(released.staging)
    base_puts = f"/manifests/{r.base}$"
    before = r.registry.count("PUT", base_puts)
    again = await r.ops.run("promote", "--commit", r.commit, "--base-version", r.base)
    assert again["git_tag"] == "exists"
    assert again["plan"]["source"] == released.staging.version
    assert {app: p["base"] for app, p in again["plan"]["apps"].items()} == dict.fromkeys(
        APPS, "exists"
    )
    assert r.registry.count("PUT", base_puts) == before  # the immutable tag is not put again
    assert r.digests(r.base) == r.digests("latest") == pushed
    assert r.git_tags() == {released.staging.version: r.commit, r.base: r.commit}


async def test_a_second_promote_writes_nothing(released: Released) -> None:
    r = released.rehearsal
    before = r.snapshot()
    again = await r.ops.run("promote", "--commit", r.commit, "--base-version", r.base)
    assert r.snapshot() == before, again["written"]


async def test_an_image_built_from_another_commit_is_refused_before_any_tag_moves(
    sample_images: SampleImages, release_registry: Registry, tmp_path: Path
) -> None:
    # Its own monorepo and remote and its own version: independent of `released`.
    r = new_rehearsal(sample_images, release_registry, tmp_path)
    r.base = "0.9.0"
    foreign_app = APPS[1]
    other = "0123456789abcdef0123456789abcdef01234567"
    staging = await r.publish_staging(revision_of={foreign_app: other})
    version = staging.version
    verified = await r.ops.run("verify", "--version", version, "--revisions")
    assert verified["revisions"] == {
        app: [other if app == foreign_app else r.commit] for app in APPS
    }

    before = r.snapshot()
    refused = r.cli.invoke("promote", "--commit", r.commit, "--base-version", r.base)
    assert refused.code == 1, refused.err
    # Named: the app's image, the commit it was built from, the label that says so.
    assert f"{r.pusher.image(foreign_app)}:{version} was built from {other}" in refused.err
    assert REVISION_LABEL in refused.err
    for app in APPS:
        if app != foreign_app:
            assert f"{r.pusher.image(app)}:{version} was built" not in refused.err
    # Nothing moved: not one registry write, no BASE, no latest, no Git tag BASE.
    assert r.snapshot() == before
    assert r.digests(r.base) == dict.fromkeys(APPS)
    assert r.base not in r.git_tags()

    # publish's own check: re-running staging onto that version (--version-override)
    # keeps existing images only when proven this commit's (CliOps.present:
    # discover, then verify --apps --revisions); it refuses before the reservation.
    r.ops.commands.clear()
    with pytest.raises(CheckFailed) as error:
        await r.publish_staging(override=version)
    assert [command[0] for command in r.ops.commands] == ["discover", "verify"]
    assert r.ops.commands[1][1] == "--apps"
    assert sorted(r.ops.commands[1][2].split(",")) == sorted(APPS)
    assert "--revisions" in r.ops.commands[1]
    assert error.value.problems == [
        f"{r.pusher.image(foreign_app)}:{version} was built from {other}, not {r.commit}."
    ]
    assert r.snapshot() == before
