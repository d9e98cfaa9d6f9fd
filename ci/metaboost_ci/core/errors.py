"""The exception tree every part of metaboost-ci raises.

Each error carries one sentence saying what went wrong and, where we know it,
``fix``: what the person should do. Exit codes follow the command line's
contract: 2 for bad input, 1 for a remote that refused or a check that failed.
Messages are redacted when built, so no secret can leak through ``str(exc)``.
"""

from __future__ import annotations

from .redact import redact


class MetaboostCiError(Exception):
    """Base of every error metaboost-ci raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = redact(message)
        self.fix = redact(fix) if fix else None
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message} Fix: {self.fix}"
        return self.message

    def describe(self) -> str:
        """What a person reads (the command line's ``error:`` line, a Dagger function's error).

        A list of problems puts the fix on its own line, not glued to the last problem.
        """
        if self.fix and "\n" in self.message:
            return f"{self.message}\nFix: {self.fix}"
        return str(self)


class InputError(MetaboostCiError):
    """Bad input or usage, found before any side effect."""

    exit_code = 2


class VersionError(InputError):
    """A version, base version or override that is not acceptable."""


class ConfigError(InputError):
    """A missing or malformed setting, file or credential."""


class RemoteError(MetaboostCiError):
    """A remote service failed or refused a request."""


class TransportError(RemoteError):
    """No usable HTTP answer: connection refused, reset, timed out (after retries)."""


class ResponseTooLarge(RemoteError):
    """A body longer than the caller's limit: reading stopped there."""

    def __init__(self, message: str, *, limit: int, fix: str | None = None) -> None:
        self.limit = limit
        super().__init__(message, fix=fix)


class DeadlineExceeded(RemoteError):
    """A whole command ran past its time bound (``METABOOST_CI_DEADLINE``)."""


class HttpStatusError(RemoteError):
    """A remote answered with a status the caller did not accept."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str,
        url: str,
        code: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.url = redact(url)
        self.code = code
        super().__init__(message, fix=fix)


class AuthenticationRequired(HttpStatusError):
    """401: no credentials, bad or expired credentials, or the wrong scope."""


class PermissionDenied(HttpStatusError):
    """403: authenticated, but not allowed. Never retried."""


class NotFound(HttpStatusError):
    """404: the thing asked for does not exist (or is hidden from us)."""


class RateLimited(HttpStatusError):
    """429 or a GitHub rate limit that could not be waited out."""


class UnexpectedStatus(HttpStatusError):
    """Any other status the caller did not expect."""


class CheckFailed(MetaboostCiError):
    """A verification or precondition check failed; lists every problem."""

    def __init__(self, message: str, problems: list[str] | None = None, *, fix: str | None = None):
        self.problems = [redact(p) for p in problems or []]
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message, fix=fix)
