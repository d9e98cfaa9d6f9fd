"""The registry's own refinements of the ``core.errors`` tree.

A 404 means different things depending on what is missing: no repository at
all (``NAME_UNKNOWN``: on a hosted registry, the first publish of an app) or no such tag or
digest (``MANIFEST_UNKNOWN``). Callers branch on the class, not on strings.
"""

from __future__ import annotations

from ..errors import NotFound, RemoteError


class NameUnknown(NotFound):
    """404 ``NAME_UNKNOWN``: the repository does not exist (or is hidden from us)."""


class ManifestUnknown(NotFound):
    """404 ``MANIFEST_UNKNOWN``: the repository exists, the tag or digest does not."""


class BlobUnknown(NotFound):
    """404 ``BLOB_UNKNOWN``: a layer or config blob is missing."""


class RegistryProtocolError(RemoteError):
    """The registry answered something we refuse to act on.

    A digest that does not match the bytes, a ``Link`` to another host, more
    tag pages than the cap, a manifest that is not JSON.
    """


_BY_CODE: dict[str, type[NotFound]] = {
    "NAME_UNKNOWN": NameUnknown,
    "MANIFEST_UNKNOWN": ManifestUnknown,
    "BLOB_UNKNOWN": BlobUnknown,
}


def refine_not_found(exc: NotFound, default: type[NotFound] = NotFound) -> NotFound:
    """The same 404, re-typed by its registry error code (``default`` when it has none)."""
    cls = _BY_CODE.get(exc.code or "", default)
    if type(exc) is cls:
        return exc
    return cls(
        exc.message,
        status=exc.status,
        method=exc.method,
        url=exc.url,
        code=exc.code,
        fix=exc.fix,
    )
