"""`mlops promote` and `mlops lineage` refuse bad command lines before touching the registry: exit 2, naming the
argument."""

import pytest
from click.testing import CliRunner

from mlops.registry.cli import lineage, promote

pytestmark = pytest.mark.unit


def test_a_version_that_is_not_a_number_is_a_usage_error():
    result = CliRunner().invoke(promote, ["m", "x", "--reason", "r"])
    assert result.exit_code == 2
    assert "VERSION" in result.stderr and "'x'" in result.stderr


def test_lineage_needs_a_model_uri():
    result = CliRunner().invoke(lineage, [])
    assert result.exit_code == 2 and "URI" in result.stderr
