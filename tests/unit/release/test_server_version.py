"""`server_version` (what `mlops release diff --server-url` shows): the X-Model-Version header of a one-model server,
the `models` map of /health/ready when one process serves several (no header then), and a clear error on a body that
is not what mlops serve answers. The server is a real HTTP server on localhost answering the bodies
mlops.serving.app `ready` builds."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops.core.errors import MlopsError
from mlops.release.live import server_version

pytestmark = pytest.mark.unit

# the shapes of mlops.serving.app ready() with a key or MLOPS_SERVE_PUBLIC_VERSION
ONE_MODEL = {"status": "ready", "model_name": "m", "model_version": "3", "models": {"m": {"version": "3"}}}
TWO_MODELS = {
    "status": "ready",
    "registry": "registry unreachable",
    "models": {"m1": {"version": "1"}, "m2": {"version": "7", "registry": "registry unreachable"}},
}


@pytest.fixture
def answer() -> Iterator[tuple[str, dict]]:
    """A server whose /health/ready answers what `reply` holds: status, headers, body bytes."""
    reply: dict = {"status": 200, "headers": {}, "body": b"{}"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            assert self.path == "/health/ready"
            self.send_response(reply["status"])
            for name, value in reply["headers"].items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply["body"])))
            self.end_headers()
            self.wfile.write(reply["body"])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", reply
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_one_model_server_reports_its_version_by_header_and_body(answer):
    url, reply = answer
    reply.update(headers={"X-Model-Version": "3"}, body=json.dumps(ONE_MODEL).encode())
    assert server_version(url) == "3"
    assert server_version(url, "m") == "3"


def test_several_models_report_each_version_from_the_body(answer):
    url, reply = answer
    reply.update(body=json.dumps(TWO_MODELS).encode())  # no X-Model-Version with several models
    assert server_version(url, "m1") == "1"
    assert server_version(url, "m2") == "7"
    assert server_version(url, "other") is None  # not served here
    assert server_version(url) is None  # without a model only the header counts


def test_without_the_models_map_the_header_counts(answer):
    url, reply = answer
    reply.update(body=b'{"status":"ready"}')  # no key and no MLOPS_SERVE_PUBLIC_VERSION: nothing shown
    assert server_version(url, "m") is None
    reply.update(headers={"X-Model-Version": "2"}, body=b'{"status":"ready","model_version":"2"}')  # an older server
    assert server_version(url, "m") == "2"


def test_not_ready_is_not_read_as_json(answer):
    url, reply = answer
    reply.update(status=503, body=b"starting")
    assert server_version(url, "m") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>proxy error</html>", "not JSON"),
        (b'["ready"]', "expected a JSON object"),
        (b'{"models": ["m"]}', "`models` must be an object"),
        (b'{"models": {"m": "3"}}', "models.m must be an object with a string `version`"),
        (b'{"models": {"m": {"version": 3}}}', "models.m must be an object with a string `version`"),
    ],
)
def test_a_body_that_is_not_a_ready_answer_is_a_clear_error(answer, body, message):
    url, reply = answer
    reply.update(body=body)
    with pytest.raises(MlopsError, match=message):
        server_version(url, "m")


def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(MlopsError, match="does not answer"):
        server_version("http://127.0.0.1:9/", "m", timeout=2)
