"""The request body has the model's columns in order; the smoke test fails cleanly on a dead endpoint."""

import pytest

from {{ cookiecutter.__package }}.features import FEATURES, load_data
from {{ cookiecutter.__package }}.predict import main, request_body

pytestmark = pytest.mark.unit


def test_request_body_is_dataframe_split_with_the_features():
    frame = load_data(4)
    body = request_body(frame)["dataframe_split"]
    assert body["columns"] == FEATURES
    assert body["data"] == frame[FEATURES].to_numpy().tolist()


def test_smoke_against_a_closed_port_says_what_failed(capsys):
    assert main(["--url", "http://127.0.0.1:9", "--rows", "2", "--wait", "0"]) == 1
    error = capsys.readouterr().err
    assert "http://127.0.0.1:9" in error and "not ready after 0 s" in error


def test_rows_must_be_positive():
    with pytest.raises(SystemExit) as exc:
        main(["--url", "http://127.0.0.1:9", "--rows", "0"])
    assert exc.value.code == 2
