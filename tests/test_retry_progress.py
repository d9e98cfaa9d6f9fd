"""Retry waits announced on the progress reporter, end to end.

Through the command line (a real registry behind the fault proxy) and through
the GitHub client against the emulator: the lines reach stderr, name the
retry, and leave stdout's ``--json`` document alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from metaboost_ci.core.github import GitHubClient
from metaboost_ci.core.net import RetryPolicy
from metaboost_ci.core.progress import RecordingProgress
from metaboost_ci.core.tags import TagCreate
from tests.support.github import GitHubEmulator, RecordingSleep
from tests.support.proxies import Proxy
from tests.support.registry_process import Registry
from tests.support.release import WorldFactory, run_cli

VERSION = "1.0.0-staging.0"


def test_a_registry_503_is_announced_on_stderr_and_json_stays_one_document(
    world_factory: WorldFactory, registry: Registry, fault_proxy: Callable[..., Proxy]
) -> None:
    proxy = fault_proxy(registry, rate=0.0)
    world = world_factory(via=proxy.registry)
    world.push_build(VERSION, None)
    proxy.inject("503", path=r"/api/manifests/")
    result = run_cli(
        [*world.cli_options(), "--json", "verify", "--version", VERSION], env=world.env()
    )
    assert result.code == 0, result.err
    assert proxy.count(faults=True) == 1
    retry_lines = [line for line in result.err.splitlines() if "; retry " in line]
    assert len(retry_lines) == 1, result.err
    pattern = (
        rf"\[ *\d+\.\ds\] (GET|HEAD) {re.escape(proxy.host)}/v2/{world.image_name('api')}"
        rf"/manifests/{re.escape(VERSION)} answered 503; retry 1 of 5 in \d+\.\d s"
    )
    assert re.fullmatch(pattern, retry_lines[0]), retry_lines[0]
    assert "retry" not in result.out
    document = json.loads(result.out)  # one document, nothing else on stdout
    assert isinstance(document, dict)


def github_client(emulator: GitHubEmulator, progress: RecordingProgress) -> GitHubClient:
    return GitHubClient(
        emulator.repository,
        token=emulator.token,
        api_url=emulator.api_url,
        policy=RetryPolicy(sleep=RecordingSleep()),
        progress=progress,
    )


async def test_a_github_rate_limit_says_how_long_and_until_when(
    github_emulator: GitHubEmulator,
) -> None:
    sha = github_emulator.commit()
    github_emulator.lightweight_tag("1.0.0", sha)
    github_emulator.faults.primary_rate_limit = 1
    github_emulator.faults.primary_reset_in = 40
    progress = RecordingProgress()
    async with github_client(github_emulator, progress) as client:
        assert await client.get_tag_commit("1.0.0") == sha
    (line,) = progress.lines
    host = github_emulator.api_url.removeprefix("http://")
    assert re.fullmatch(
        r"GitHub rate limit: waiting 4\d s \(until \d\d:\d\d:\d\d UTC\); "
        rf"GET {re.escape(host)}/repos/{github_emulator.repository}/\S+ answered 403, "
        r"retry 1 of 5",
        line,
    ), line
    assert github_emulator.token not in line


async def test_a_create_read_back_and_retried_is_announced(
    github_emulator: GitHubEmulator,
) -> None:
    sha = github_emulator.commit()
    github_emulator.faults.server_error = 1  # the POST fails before GitHub acts
    progress = RecordingProgress()
    async with github_client(github_emulator, progress) as client:
        assert await client.create_tag_ref("1.2.0-staging.4", sha) is TagCreate.CREATED
    (line,) = progress.lines
    assert re.fullmatch(
        r"POST \S+/repos/acme/metaboost/git/refs answered 502 and nothing was made; "
        r"retry 1 of 5 in \d+\.\d s",
        line,
    ), line
