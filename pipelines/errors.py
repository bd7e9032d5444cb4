"""Errors the pipeline raises on purpose. The CLI turns them into a one-line message and exit code 1."""

from __future__ import annotations


class PipelineError(Exception):
    """A bad input or a failed step; the message names what was wrong and what to do."""


class TransientError(PipelineError):
    """A failure that may succeed on retry (an unreachable remote or server); retraining backs off and retries."""
