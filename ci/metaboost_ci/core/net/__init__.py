"""The one place every network call goes through.

``HttpClient`` sends requests, retries what is retryable (connection errors,
408, 429, 5xx) with capped, jittered backoff inside a total time bound,
classifies failures into the ``core.errors`` tree, and redacts secrets from
everything it raises.
"""

from ..redact import redact, register_secret
from .http import Hints, HttpClient
from .retry import RetryPolicy, Tries

__all__ = ["Hints", "HttpClient", "RetryPolicy", "Tries", "redact", "register_secret"]
