"""The errors raised on purpose. Every command turns an MlopsError into a one-line `Error: ...` and exit code 1."""

from __future__ import annotations


class MlopsError(Exception):
    """A bad input or a failed step; the message names what was wrong and what to do."""


class TransientError(MlopsError):
    """A failure that may succeed on retry (an unreachable remote or server); retraining backs off and retries."""
