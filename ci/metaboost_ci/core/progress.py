"""Progress for people, on stderr, while results go to stdout."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

from .redact import redact


class Progress(Protocol):
    def step(self, message: str) -> None:
        """Announce a step that is starting or a fact worth a line."""
        ...


class StderrProgress:
    """Timestamped lines on stderr (or any stream)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._start = time.monotonic()

    def step(self, message: str) -> None:
        """One line, redacted here: whoever built ``message``, no secret leaves in it."""
        elapsed = time.monotonic() - self._start
        print(f"[{elapsed:6.1f}s] {redact(message)}", file=self._stream, flush=True)


class SilentProgress:
    def step(self, message: str) -> None:
        pass


class RecordingProgress:
    """Keeps every line, for tests and for summaries."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, message: str) -> None:
        self.lines.append(message)
