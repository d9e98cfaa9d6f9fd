"""``GitRemoteTagStore``: the ``TagStore`` protocol over any Git remote.

Works with anything ``git`` can push to: a URL (https, ssh), an ``scp``-like
address, a local path (a bare repository in tests), or the name of a remote
configured in the local repository. It runs ``git`` as a subprocess (no
shell) with ``LC_ALL=C`` so its messages can be parsed, and never prompts.

- Listing and reading: ``git ls-remote --tags`` (annotated tags are peeled
  through the ``^{}`` lines Git adds).
- Creating: ``git push REMOTE SHA:refs/tags/X`` without force. Git refuses to
  move an existing tag, and the receiving side creates the ref only if it is
  still absent, so concurrent creates race safely: one wins, the rest see
  "already exists".

The push runs in ``local_repo`` (the caller's checkout for the command line),
which must hold the commit; it also sends the commit's objects when the
remote lacks them. The push skips hooks (``--no-verify``) and never follows
other tags: it sends exactly one ref.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import anyio

from .errors import ConfigError, InputError, RemoteError
from .gitrun import GitResult, run_git
from .net.retry import RetryPolicy, Tries
from .progress import Progress
from .redact import redact, register_secret
from .tags import TagCreate, require_commit_sha, require_tag_name

_GLOB_CHARS = frozenset("*?[\\")
# scp-like [user@]host:path (an IPv6 host in brackets); a '/' before the ':' makes it a path.
_SCP = re.compile(r"^(?:(?P<user>[^/@]+)@)?(?P<host>\[[^\]/]+\]|[^/@:\[]+):(?P<path>.*)$", re.S)
# Messages with which git (or the receiving side) reports a lost race for a
# ref: the tag may exist now, or may not yet; read it back.
_RACE_MARKERS = ("failed to update ref", "cannot lock ref", "reference already exists")
# What git says when a fetch asks for a commit the remote does not have.
_NO_SUCH_COMMIT_MARKERS = (
    "not our ref",
    "couldn't find remote ref",
    "no such remote ref",
    "unadvertised object",
)


@dataclass(frozen=True)
class PushResult:
    """One line of ``git push --porcelain``: flag, summary and reason."""

    flag: str  # '*' new, ' ' fast-forward, '=' up to date, '!' rejected, ...
    summary: str  # e.g. "[rejected] (already exists)"


def parse_ls_remote(output: str) -> dict[str, str]:
    """``git ls-remote`` lines -> {tag: commit}, using the ``^{}`` peeled line when present."""
    direct: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, ref = line.strip().partition("\t")
        if not ref.startswith("refs/tags/"):
            continue
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            peeled[name.removesuffix("^{}")] = sha
        else:
            direct[name] = sha
    return {name: peeled.get(name, sha) for name, sha in direct.items()}


def parse_push_porcelain(output: str, ref: str) -> PushResult | None:
    """The porcelain status line of ``git push`` for ``ref``, or None when absent."""
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].endswith(f":{ref}") and parts[0]:
            return PushResult(flag=parts[0], summary=parts[2])
    return None


def scp_parts(remote: str) -> tuple[str, str, str] | None:
    """``(user, host, path)`` of an scp-like ``user@host:path``, else None.

    Git reads a remote as scp-like when it has no ``://`` and a ':' comes
    before any '/'; the user part is optional.
    """
    if "://" in remote:
        return None
    match = _SCP.match(remote)
    if match is None:
        return None
    return match["user"] or "", match["host"], match["path"]


def safe_remote(remote: str) -> str:
    """The remote for messages: userinfo (user:token@, scp's token@) and query removed.

    A query can carry a token too (``?access_token=``), and unlike userinfo
    it is not registered as a secret, so it must never be shown.
    """
    scp = scp_parts(remote)
    if scp is not None:
        _, host, path = scp
        return f"{host}:{path}"
    parts = urlsplit(remote)
    if not parts.scheme:
        return remote  # a path or a configured remote's name
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=host, query="", fragment="").geturl()


def register_remote_credentials(remote: str) -> None:
    """Register every credential ``remote`` carries, so no output can show it.

    Called when settings are made, before the first line of progress names
    the remote, and again by the tag store for remotes built by hand.
    """
    scp = scp_parts(remote)
    if scp is not None:
        # ghp_TOKEN@host:repo.git: ssh ignores the user part for tokens, but
        # a person who pasted one there meant a credential ("git" is too short
        # to be registered, and is nobody's secret).
        user = scp[0]
        register_secret(user)
        register_secret(user.partition(":")[2])
        return
    parts = urlsplit(remote)
    if parts.scheme and parts.password:
        register_secret(parts.password)
    elif parts.scheme and parts.username and "@" in parts.netloc:
        # https://TOKEN@host: a bare token in the user part is a credential too.
        register_secret(parts.username)
    if parts.scheme:
        # ?access_token=...: git and curl echo the URL whole in their errors.
        for _, value in parse_qsl(parts.query):
            register_secret(value)


class GitRemoteTagStore:
    """Git tags of one remote, created atomically with a non-forced push."""

    def __init__(
        self,
        remote: str,
        *,
        local_repo: Path | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 300.0,
        progress: Progress | None = None,
    ) -> None:
        if not remote or remote.startswith("-"):
            raise ConfigError(
                f"{remote!r} is not a Git remote.",
                fix="Pass a URL, a path to a repository, or the name of a configured remote.",
            )
        register_remote_credentials(remote)
        # Commands run inside local_repo, so a relative path must be anchored
        # where the caller meant it. A bare word stays a remote's name.
        looks_like_path = remote.startswith(".") or os.sep in remote
        is_url = "://" in remote
        if looks_like_path and not is_url and Path(remote).exists():
            remote = str(Path(remote).resolve())
        self.remote = remote
        self.local_repo = (local_repo or Path.cwd()).resolve()
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self._progress = progress

    @property
    def description(self) -> str:
        return f"Git remote {safe_remote(self.remote)}"

    async def list_tags(self, prefix: str) -> dict[str, str]:
        # ls-remote matches patterns by tail and by glob: narrow the transfer
        # with a pattern when the prefix is plain, and filter exactly here.
        pattern = [] if _GLOB_CHARS & set(prefix) else [f"refs/tags/{prefix}*"]
        out = await self._ls_remote(*pattern)
        return {name: sha for name, sha in parse_ls_remote(out).items() if name.startswith(prefix)}

    async def tag_commit(self, tag: str) -> str | None:
        require_tag_name(tag)
        # The pattern must name the peeled line too, or annotated tags stay unpeeled.
        ref = f"refs/tags/{tag}"
        return parse_ls_remote(await self._ls_remote(ref, ref + "^{}")).get(tag)

    async def create_tag(self, tag: str, sha: str) -> TagCreate:
        require_tag_name(tag)
        sha = require_commit_sha(sha)
        await self._require_local_commit(sha)
        ref = f"refs/tags/{tag}"
        tries = Tries(self.policy, self._say)
        pushing = f"git push of {tag} to {safe_remote(self.remote)}"
        while True:
            tries.start()
            result = await self._git(
                "-c",
                "push.followTags=false",
                "push",
                "--porcelain",
                "--no-verify",
                "--no-recurse-submodules",
                self.remote,
                f"{sha}:{ref}",
            )
            line = parse_push_porcelain(result.stdout, ref)
            if line is None:
                # No verdict from the remote (it hung up, the connection
                # dropped): the push may have landed. Read back and decide, as
                # the GitHub store does after a 5xx.
                landed = await self.tag_commit(tag)
                if landed == sha:
                    return TagCreate.CREATED
                if landed is not None:
                    return TagCreate.EXISTS
                if not await tries.again(f"{pushing} gave no verdict and the tag is absent"):
                    raise self._failure("push", result)
                continue
            if line.flag in ("*", " ") and result.returncode == 0:
                return TagCreate.CREATED
            if line.flag == "=":  # already there, at our commit: we did not create it
                return TagCreate.EXISTS
            reason = line.summary.lower()
            if "already exists" in reason and "[rejected]" in reason:
                return TagCreate.EXISTS
            if not any(marker in reason for marker in _RACE_MARKERS):
                raise self._failure("push", result, detail=line.summary)
            # A concurrent create held or took the ref: whoever won, it is
            # there now; if nobody did, try again.
            if await self.tag_commit(tag) is not None:
                return TagCreate.EXISTS
            if not await tries.again(f"{pushing} was refused ({line.summary})"):
                raise self._failure("push", result, detail=line.summary)

    def _say(self, line: str) -> None:
        # A silent wait looks like a hang.
        if self._progress is not None:
            self._progress.step(redact(line))

    async def commit_exists(self, sha: str) -> bool:
        """True when the remote has commit ``sha``.

        Asks the remote for that one commit from an empty scratch repository
        (a fetch in ``local_repo`` would succeed from local objects alone).
        Servers speaking Git's protocol v2 (GitHub, git >= 2.26 over file,
        ssh and smart HTTP) serve any object they hold; a v0 server that
        refuses unadvertised objects answers "not ours" for a commit that is
        not a ref tip, which reads here as absent. Credentials configured
        only in ``local_repo``'s own config (Actions' extraheader) do not
        apply to the scratch fetch; URL, helper or global credentials do.
        """
        sha = require_commit_sha(sha)
        remote = await self._fetchable_remote()
        with tempfile.TemporaryDirectory(prefix="metaboost-ci-fetch-") as scratch:
            init = await self._git("init", "-q", "--bare", scratch, cwd=Path(scratch))
            if init.returncode != 0:
                raise self._failure("init", init)
            result = await self._git(
                "fetch",
                "-q",
                "--no-tags",
                "--no-write-fetch-head",
                "--depth=1",
                # Only the commit object is needed; servers without filter
                # support ignore this with a warning.
                "--filter=tree:0",
                remote,
                sha,
                cwd=Path(scratch),
            )
        if result.returncode == 0:
            return True
        if any(marker in result.stderr.lower() for marker in _NO_SUCH_COMMIT_MARKERS):
            return False
        raise self._failure("fetch", result)

    # -- helpers ------------------------------------------------------------

    async def _ls_remote(self, *patterns: str) -> str:
        result = await self._git("ls-remote", "--tags", self.remote, *patterns)
        if result.returncode != 0:
            raise self._failure("ls-remote", result)
        return result.stdout

    async def _require_local_commit(self, sha: str) -> None:
        result = None
        if self.local_repo.is_dir():
            result = await self._git("cat-file", "-e", f"{sha}^{{commit}}")
            if result.returncode == 0:
                return
        if result is None or "not a git repository" in result.stderr.lower():
            raise ConfigError(
                f"{self.local_repo} is not a Git repository; the Git tag store pushes "
                "tags from a local repository that has the commit.",
                fix="Run from your checkout, or name it with the command line's --source option.",
            )
        raise InputError(
            f"Commit {sha} is not in the local repository {self.local_repo}, so the tag "
            "cannot be pushed from it.",
            fix="Fetch or make the commit there first, or check the SHA.",
        )

    async def _fetchable_remote(self) -> str:
        """A remote usable from a scratch repository: a configured name becomes its URL."""
        result = await self._git("remote", "get-url", self.remote)
        if result.returncode != 0:
            return self.remote
        url = result.stdout.strip()
        # A configured path is relative to local_repo, not to the scratch repository.
        candidate = self.local_repo / url
        if "://" not in url and candidate.exists():
            return str(candidate.resolve())
        return url

    async def _git(self, *args: str, cwd: Path | None = None) -> GitResult:
        # ls-remote needs no repository; a missing local_repo must not stop it.
        where = cwd or (self.local_repo if self.local_repo.is_dir() else None)
        try:
            with anyio.fail_after(self.timeout):
                return await run_git(*args, cwd=where)
        except TimeoutError:
            raise RemoteError(
                f"git {args[0] if args else ''} against {safe_remote(self.remote)} "
                f"did not finish within {self.timeout:.0f}s.",
                fix="Check that the remote is reachable from here.",
            ) from None

    def _failure(self, what: str, result: GitResult, *, detail: str | None = None) -> RemoteError:
        stderr = redact(result.stderr.strip())
        lines = [
            ln.strip()
            for ln in stderr.splitlines()
            if ln.strip() and not ln.startswith(("hint:", "warning:"))
        ]
        said = detail or "; ".join(lines[-4:]) or f"exit status {result.returncode}"
        return RemoteError(
            f"git {what} against {safe_remote(self.remote)} failed: {said}",
            fix="Check the remote's address, that it exists, and that your credentials may "
            "read and push tags.",
        )
