"""The README's "Try it locally" block, run exactly as written: a newcomer's path
from an empty directory to a promoted release, with no engine and no GitHub.

Only ``PORT`` and ``TRY`` are set (the block's own knobs), so parallel runs do
not meet; the block starts its registry in the background, so it runs in its
own session and the whole process group is ended afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

from metaboost_ci.core.apps import DEFAULT_APPS
from tests.support.gitrepo import run_git
from tests.support.ports import free_port
from tests.support.registry_process import require_tool

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(
    r"<!-- newcomer-try:begin -->\n```bash\n(.*?)```\n<!-- newcomer-try:end -->", re.S
)
PUSH_SAMPLE = "push-sample-images"


def readme_block() -> str:
    [block] = BLOCK.findall((REPO / "README.md").read_text(encoding="utf-8"))
    return block


def test_the_readme_block_takes_a_newcomer_through_every_release_command(tmp_path: Path) -> None:
    require_tool("docker-registry", "apt-get install docker-registry")
    bash = require_tool("bash", "apt-get install bash")
    assert (REPO / ".venv" / "bin" / "metaboost-ci").exists(), "run the README's test command"
    block = readme_block()
    for command in ("reserve", PUSH_SAMPLE, "discover", "verify", "move-floating", "promote"):
        assert f"\nmb {command} " in block
    try_dir = tmp_path / "try"
    env = {**os.environ, "PORT": str(free_port()), "TRY": str(try_dir)}
    # errexit: a failing command fails the block, as it would stop a careful reader.
    run = subprocess.Popen(
        [bash, "-e", "-c", block],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = run.communicate(timeout=300)
    finally:
        # The registry the block left running shares the session's process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGTERM)
    assert run.returncode == 0, out + err
    head = run_git("rev-parse", "HEAD", cwd=REPO)
    assert "Reserved 0.1.0-staging.0 at " + head in out
    assert "Next N by the registry: 1." in out
    assert f"Verified 0.1.0-staging.0 on {len(DEFAULT_APPS)} apps." in out
    assert out.count(head) >= 7  # the revision label of every image, read back by verify
    assert "Moved staging to 0.1.0-staging.0: 6 app(s) moved" in out
    assert "Promoted 0.1.0-staging.0 to 0.1.0 and latest." in out
    tags = run_git("ls-remote", "--tags", str(try_dir / "tags.git"), cwd=REPO)
    assert f"{head}\trefs/tags/0.1.0" in tags.splitlines()
    assert f"{head}\trefs/tags/0.1.0-staging.0" in tags.splitlines()
