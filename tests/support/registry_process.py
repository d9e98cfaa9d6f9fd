"""Start and stop Debian's ``docker-registry`` (distribution 2.8.2) on a free port.

A registry is a real process with its own storage in a temporary directory,
configured from the templates in ``infra/registry/``. Starting one takes a few
tens of milliseconds, so tests get fresh ones instead of sharing state.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pytest

from .ports import LOOPBACK, free_port, port_open, wait_until
from .registry_token import TokenServer

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = REPO_ROOT / "infra" / "registry"
Auth = Literal["none", "basic", "token"]

_TEMPLATE_FOR: dict[str, str] = {
    "none": "anonymous.yml",
    "basic": "htpasswd.yml",
    "token": "token.yml",
}
# Combined log format, as docker-registry writes its access log.
_ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')
_PR_SET_PDEATHSIG = 1
_TMP_PREFIX = "metaboost-registry-"
_SWEPT: list[bool] = []
# Requests that sync the access log; never counted.
_BARRIER = "metaboost-log-barrier"
# Processes still running if a test run is torn down abnormally.
_RUNNING: set[subprocess.Popen[bytes]] = set()


@dataclass(frozen=True)
class AccessEntry:
    method: str
    path: str
    status: int


@dataclass(frozen=True)
class Registry:
    """A running registry (or a proxy in front of one: same fields, other address).

    ``url`` is ``http://127.0.0.1:PORT``, ``host`` is ``127.0.0.1:PORT`` (what an
    image reference starts with). ``username``/``password`` are None without auth.
    ``log_path`` is the registry's access log (requests that reached the registry
    itself, whatever address they came through).
    """

    url: str
    host: str
    auth: Auth
    log_path: Path
    storage: Path
    username: str | None = None
    password: str | None = None
    token_server: TokenServer | None = None
    # The registry process's own address, also when ``url`` is a proxy's.
    origin_url: str = ""

    @property
    def credentials(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return self.username, self.password

    def access_log(self) -> list[AccessEntry]:
        """Every request the registry process answered, in order.

        The registry writes a log line after it answers, so a line can lag the
        answer a test just got. A barrier request is sent first, and the log
        read once its line is there; barrier lines are left out.
        """
        barrier = f"/v2/{_BARRIER}/{secrets.token_hex(8)}/tags/list"
        origin = self.origin_url or self.url
        # A 4xx answer (HTTPError is an OSError) is as good as a 200: it is logged.
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{origin}{barrier}", timeout=10),  # noqa: S310
        ):
            pass
        wait_until(
            lambda: barrier in self.log_path.read_text(errors="replace"),
            timeout=10,
            what="the registry's access log to catch up",
        )
        text = self.log_path.read_text(errors="replace")
        return [
            AccessEntry(m["method"], m["path"], int(m["status"]))
            for m in _ACCESS_LINE.finditer(text)
            if _BARRIER not in m["path"]
        ]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests matched ``method`` and the regex ``path`` (searched)."""
        pattern = re.compile(path) if path else None
        return sum(
            1
            for entry in self.access_log()
            if (method is None or entry.method == method)
            and (pattern is None or pattern.search(entry.path))
        )

    def via(self, url: str) -> Registry:
        """The same registry reached through another address (a proxy)."""
        return replace(self, url=url, host=url.removeprefix("http://"))


def require_tool(name: str, install: str) -> str:
    """The tool's path; skip the test without it, but fail under CI=true.

    CI must never pass by silently skipping the real-part tests.
    """
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} not found: {install}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


def bcrypt_htpasswd_line(username: str, password: str) -> str:
    """An htpasswd line with a cost-4 bcrypt hash.

    Cost 4 (the minimum) because docker-registry checks the hash on every
    request: the default cost would add tens of milliseconds to each one.
    """
    htpasswd = require_tool("htpasswd", "apt-get install apache2-utils")
    result = subprocess.run(
        [htpasswd, "-nbB", "-C", "4", username, password],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() + "\n"


@contextlib.contextmanager
def run_registry(
    auth: Auth = "none",
    *,
    username: str | None = None,
    password: str | None = None,
    htpasswd_line: str | None = None,
    token_server: TokenServer | None = None,
    realm: str | None = None,
) -> Generator[Registry]:
    """Run one registry for the duration of the ``with`` block.

    ``basic`` needs ``username`` and ``password`` (``htpasswd_line`` saves
    re-hashing). ``token`` needs ``token_server``; ``realm`` overrides its token
    URL (e.g. to route token requests through a fault proxy).
    """
    binary = require_tool("docker-registry", "apt-get install docker-registry")
    if auth == "basic" and (username is None or password is None):
        raise ValueError("a basic-auth registry needs username and password")
    if auth == "token" and token_server is None:
        raise ValueError("a token-auth registry needs token_server")
    parent = _fast_tmp()
    _sweep_leftovers(parent)
    prefix = f"{_TMP_PREFIX}{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as tmp:
        root = Path(tmp)
        storage = root / "storage"
        storage.mkdir()
        values = {
            "storage": str(storage),
            "secret": secrets.token_hex(16),
            "realm": "metaboost-test-registry",
            "htpasswd": str(root / "htpasswd"),
            "service": "",
            "issuer": "",
            "rootcertbundle": str(root / "token-ca.pem"),
        }
        if auth == "basic" and username is not None and password is not None:
            line = htpasswd_line or bcrypt_htpasswd_line(username, password)
            (root / "htpasswd").write_text(line)
        if token_server is not None and auth == "token":
            token_server.write_cert(root / "token-ca.pem")
            values.update(
                realm=realm or token_server.realm,
                service=token_server.service,
                issuer=token_server.issuer,
            )
            if username is not None and password is not None:
                token_server.add_user(username, password)
        template = string.Template((TEMPLATES / _TEMPLATE_FOR[auth]).read_text())
        log_path = root / "registry.log"
        process, port = _start(binary, template, values, root, log_path)
        try:
            url = f"http://{LOOPBACK}:{port}"
            yield Registry(
                url=url,
                host=f"{LOOPBACK}:{port}",
                auth=auth,
                log_path=log_path,
                storage=storage,
                username=username if auth != "none" else None,
                password=password if auth != "none" else None,
                token_server=token_server if auth == "token" else None,
                origin_url=url,
            )
        finally:
            _stop(process)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """Ask Linux to SIGTERM the registry when pytest dies, even by SIGKILL (a CI
    timeout), so no registry outlives its run. The signal fires when the
    *thread* that started the child ends, so only on the main thread."""
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


def _sweep_leftovers(parent: str | None) -> None:
    """Remove directories left by runs that were killed (their pid is gone).

    RAM-backed storage would otherwise pile up until reboot. Once per process."""
    if _SWEPT:
        return
    _SWEPT.append(True)
    for leftover in Path(parent or tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*-*"):
        owner = leftover.name.removeprefix(_TMP_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fast_tmp() -> str | None:
    """A RAM-backed directory when there is one: the registry's filesystem driver
    writes several small files per request, and on a VM disk that costs ~10 ms each."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return str(shm)
    return None


def _start(
    binary: str,
    template: string.Template,
    values: dict[str, str],
    root: Path,
    log_path: Path,
) -> tuple[subprocess.Popen[bytes], int]:
    # The free port can be taken between our probe and the registry's bind; then
    # the registry exits at once and we try another port.
    for _attempt in range(5):
        port = free_port()
        config = root / "config.yml"
        config.write_text(template.substitute(values, port=port))
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent_hook(),
            )
        _RUNNING.add(process)

        def up(process: subprocess.Popen[bytes] = process, port: int = port) -> bool:
            return process.poll() is not None or port_open(port)

        try:
            wait_until(
                up,
                timeout=15,
                what=f"docker-registry on port {port}",
                diagnose=lambda: _tail(log_path),
            )
        except TimeoutError:
            _stop(process)
            raise
        if process.poll() is None:
            return process, port
        _stop(process)
        if "address already in use" not in _tail(log_path):
            raise RuntimeError(f"docker-registry exited at start:\n{_tail(log_path)}")
    raise RuntimeError("docker-registry could not find a free port in 5 attempts")


def _stop(process: subprocess.Popen[bytes]) -> None:
    _RUNNING.discard(process)
    if process.poll() is None:
        # Our own process group (start_new_session): nothing else is in it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_RUNNING):
        _stop(process)
