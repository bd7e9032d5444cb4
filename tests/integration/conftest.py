"""Fixtures the integration tests share (the local stack itself is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.serving import register_versions


@pytest.fixture(scope="session")
def pinned_model(local_stack) -> str:
    """`models:/serving-test/1`, registered once per session on the local stack."""
    register_versions("serving-test", 1)
    return "models:/serving-test/1"
