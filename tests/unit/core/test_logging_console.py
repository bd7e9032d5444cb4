"""The console is for people: libraries' chatter (httpx, MLflow, alembic, uvicorn, ...) and health-probe access lines
go to the log file only, unless verbose; ANSI escapes never reach a JSON line."""

import io
import json
import logging

import pytest

from mlops.core.logs import configure_logging

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def restore_root_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    configure_logging("INFO", stream=io.StringIO())
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _emit() -> None:
    logging.getLogger("httpx").info('HTTP Request: POST http://127.0.0.1/invocations "HTTP/1.1 200 OK"')
    logging.getLogger("mlflow.utils.environment").warning("Failed to resolve installed pip version")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade -> 451aebb31d03")
    logging.getLogger("mlflow.store").error("the tracking store failed")
    logging.getLogger("mlops.serving.access").info("request", extra={"path": "/health/ready", "status": 200})
    logging.getLogger("mlops.serving.access").info("request", extra={"path": "/invocations", "status": 200})
    logging.getLogger("mlops.training.register").info("registered \x1b[32mversion 3\x1b[0m")
    logging.getLogger("mlops.training.register").debug("below the level")


def test_console_shows_ours_and_library_errors_the_file_everything(tmp_path):
    console, log_file = io.StringIO(), tmp_path / "logs" / "mlops.log"
    configure_logging("INFO", stream=console, verbose=False, log_file=log_file)
    _emit()
    shown = [json.loads(line) for line in console.getvalue().splitlines()]
    assert [(e["logger"], e["message"]) for e in shown] == [
        ("mlflow.store", "the tracking store failed"),
        ("mlops.serving.access", "request"),
        ("mlops.training.register", "registered version 3"),  # no ANSI escapes inside JSON
    ]
    assert shown[1]["path"] == "/invocations"
    kept = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert len(kept) == 7 and {e["logger"] for e in kept} >= {"httpx", "alembic.runtime.migration"}


def test_a_quieter_console_keeps_the_info_lines_in_the_file(tmp_path):
    console, log_file = io.StringIO(), tmp_path / "mlops.log"
    configure_logging("INFO", stream=console, console_level="WARNING", verbose=False, log_file=log_file)
    _emit()
    assert [json.loads(line)["message"] for line in console.getvalue().splitlines()] == ["the tracking store failed"]
    assert "registered version 3" in log_file.read_text()


def test_verbose_shows_everything_at_the_level(monkeypatch):
    monkeypatch.setenv("MLOPS_VERBOSE", "true")
    console = io.StringIO()
    configure_logging("INFO", stream=console, console_level="WARNING")
    _emit()
    assert len(console.getvalue().splitlines()) == 7


def test_an_unwritable_log_file_is_skipped(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    console = io.StringIO()
    configure_logging("INFO", stream=console, verbose=False, log_file=blocked / "logs" / "mlops.log")
    logging.getLogger("mlops.x").info("still logged")
    assert "still logged" in console.getvalue()
