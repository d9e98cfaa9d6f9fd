"""Our errors as ``dagger call`` shows them: the sentence and the fix, no traceback.

The SDK logs every exception a function raises with its full traceback,
except ``FunctionError`` (``dagger.mod._exceptions``), which it passes on as the call's error
as it is (``dagger/mod/_module.py``, ``Module.call``). So every function turns
a ``MetaboostCiError`` (bad input, a failed check, a refusing remote, or the
command line's own error from the tools container) into a ``FunctionError``
with the text the command line prints.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

# Not exported by dagger.mod, but the one exception the SDK passes on untouched.
from dagger.mod._exceptions import FunctionError  # pyright: ignore[reportPrivateUsage]

from ..core.errors import MetaboostCiError

P = ParamSpec("P")
R = TypeVar("R")


def as_function_error(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """``func`` with our errors raised as ``FunctionError`` (signature and doc kept)."""

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except MetaboostCiError as error:
            raise FunctionError(error.describe()) from None

    return wrapper
