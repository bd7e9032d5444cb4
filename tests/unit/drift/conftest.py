import pytest

from tests.support.drift_cli import make_inputs


@pytest.fixture
def files(tmp_path):
    """A reference, a same-distribution current window and the reference's profile (model `fraud`)."""
    return make_inputs(tmp_path)
