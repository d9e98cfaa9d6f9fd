"""``metaboost-ci push-sample-images``: stand-in images for trying the release commands.

A newcomer with a local registry and no engine gets, for every app, a tiny
image named as the release commands expect (``REGISTRY/OWNER/REPO/<app>``)
and labelled with the commit, so discover, verify, move-floating and promote
can be tried end to end (``core.flows.sample``).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.flows.context import ReleaseContext
from ..core.flows.sample import push_sample_images
from ..core.settings import Settings
from ..core.tags import require_commit_sha
from .commands import add_release_command
from .flow_runner import require_version_tag, run_flow
from .output import Outcome, table


def cmd_push_sample_images(args: argparse.Namespace) -> Outcome:
    version = require_version_tag(args.version)
    commit = require_commit_sha(args.commit)

    async def work(ctx: ReleaseContext, settings: Settings) -> Outcome:
        digests = await push_sample_images(ctx, version=version, commit=commit)
        rows = [(ctx.image_ref(app, version), digest) for app, digest in digests.items()]
        text = f"Sample images of {version}, labelled with commit {commit[:12]}:\n"
        return Outcome(
            text + table(["image", "digest"], rows), {"version": version, "digests": digests}
        )

    return run_flow(args, work, needs_tag_store=False)


def register(sub: Any) -> None:
    """Add ``push-sample-images`` to the ``metaboost-ci`` parser."""
    p = add_release_command(
        sub,
        "push-sample-images",
        "Push a tiny stand-in image of every app to a local (http://) registry, to try the "
        "release commands without building anything.",
        cmd_push_sample_images,
    )
    p.add_argument("--version", required=True, help="The tag to push, e.g. 0.1.0-staging.0.")
    p.add_argument(
        "--commit",
        required=True,
        help="Full commit SHA for the images' org.opencontainers.image.revision label.",
    )
