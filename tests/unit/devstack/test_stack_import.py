"""The local stack's modules read no settings at import, so a bad setting is reported by the command that needs it
(as `mlops.core` does; tests/unit/core/test_settings.py)."""

import pytest

from tests.support.imports import execute_fresh, modules_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("module", modules_of("mlops.devstack"))
def test_nothing_is_read_at_import(monkeypatch, module):
    monkeypatch.setenv("MLOPS_MOTO_PORT", "not-a-port")
    execute_fresh(module)  # would raise if the module built settings at import
