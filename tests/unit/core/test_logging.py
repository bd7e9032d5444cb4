import io
import json
import logging

import pytest

from mlops.core.logs import configure_logging, request_id_var

pytestmark = pytest.mark.unit


def test_json_lines_with_request_id_and_extra_fields():
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    token = request_id_var.set("req-123")
    try:
        logging.getLogger("serving").info("predicted %d rows", 3, extra={"latency_seconds": 0.01})
    finally:
        request_id_var.reset(token)
    logging.getLogger("serving").debug("not shown at INFO")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "predicted 3 rows"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "serving"
    assert entry["request_id"] == "req-123"
    assert entry["latency_seconds"] == 0.01
    assert entry["timestamp"].endswith("+00:00")


def test_configure_twice_keeps_one_handler():
    stream = io.StringIO()
    configure_logging("INFO", stream=io.StringIO())
    configure_logging("INFO", stream=stream)
    logging.getLogger("x").warning("once")
    assert len(stream.getvalue().splitlines()) == 1


def test_exceptions_are_one_line_of_json():
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    entry = json.loads(stream.getvalue())
    assert "ValueError: boom" in entry["exception"]
