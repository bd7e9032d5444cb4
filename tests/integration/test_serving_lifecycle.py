"""Hot reload under load, graceful shutdown with requests in flight, and `mlops serve` usage errors."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time

import httpx
import pytest

from tests.conftest import run_mlops
from tests.support.serving import (
    API_KEY,
    auth,
    metric_value,
    register_versions,
    start_server,
    training_frame,
)

pytestmark = pytest.mark.integration
NAME = "serving-reload"


@pytest.fixture(scope="module")
def reloading_server(local_stack, tmp_path_factory):
    import mlflow.pyfunc

    versions = register_versions(NAME, 2)
    frame = training_frame(3, seed=9)
    expected = {v: mlflow.pyfunc.load_model(f"models:/{NAME}/{v}").predict(frame).tolist() for v in versions}
    assert expected["1"] != expected["2"]
    env = {"MLOPS_SERVE_RELOAD_INTERVAL_SECONDS": "0.5"}
    srv = start_server(f"models:/{NAME}@champion", tmp_path_factory.mktemp("reload") / "serve.log", env=env)
    srv.wait_ready()
    yield srv, frame, expected
    srv.stop()


def test_alias_move_reloads_under_load_with_zero_failures(reloading_server):
    import mlflow

    srv, frame, expected = reloading_server
    body = {"dataframe_records": frame.to_dict(orient="records")}
    results: list[tuple[int, str | None, object]] = []
    stop = threading.Event()

    def load():
        with httpx.Client(headers=auth(), timeout=30) as client:
            for _ in range(5000):  # bounded in count and (below) in time
                if stop.is_set():
                    return
                try:
                    answer = client.post(srv.url + "/invocations", json=body)
                    results.append((answer.status_code, answer.headers.get("x-model-version"), answer.json()))
                except httpx.HTTPError as exc:
                    results.append((0, None, repr(exc)))

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        mlflow.MlflowClient().set_registered_model_alias(NAME, "champion", "2")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(r[1] == "2" for r in results[-50:]):
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    failures = [r for r in results if r[0] != 200]
    assert not failures, failures[:5]
    seen = {r[1] for r in results}
    assert seen == {"1", "2"}, seen
    for _, version, answer in results:  # every answer comes wholly from the version its header names
        assert answer == {"predictions": expected[version]}
    text = httpx.get(srv.url + "/metrics", headers=auth()).text
    assert metric_value(text, "mlops_serving_model_info", {"model_version": "2"}) == 1
    assert metric_value(text, "mlops_serving_model_info", {"model_version": "1"}) == 0


def test_sigterm_finishes_in_flight_requests_then_exits(reloading_server):
    srv, _, _ = reloading_server
    big = training_frame(10000, seed=3)  # the most rows one request may hold (MLOPS_SERVE_MAX_REQUEST_ROWS)
    body = json.dumps({"dataframe_split": {"columns": list(big.columns), "data": big.values.tolist()}}).encode()
    answers: list[object] = []
    signalled = threading.Event()

    def upload():
        # half the body, then the rest only after SIGTERM: the four requests are surely in flight when it lands
        yield body[: len(body) // 2]
        signalled.wait(30)
        yield body[len(body) // 2 :]

    def call():
        try:
            headers = {**auth(), "Content-Type": "application/json", "Content-Length": str(len(body))}
            answer = httpx.post(srv.url + "/invocations", content=upload(), headers=headers, timeout=60)
            answers.append((answer.status_code, len(answer.json()["predictions"])))
        except httpx.HTTPError as exc:
            answers.append(repr(exc))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait until all four are inside the app (the scrape itself is one more)
        in_flight = metric_value(
            httpx.get(srv.url + "/metrics", headers=auth()).text, "mlops_serving_in_flight_requests"
        )
        if in_flight >= 5:
            break
        time.sleep(0.01)
    assert in_flight >= 5, "the requests never became in-flight"
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # the server is shutting down while the four bodies are still arriving
    signalled.set()
    for t in threads:
        t.join(60)
    assert answers == [(200, 10000)] * 4
    assert srv.proc.wait(30) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(srv.url + "/health/live", timeout=2)
    assert '"message": "worker stopped"' in srv.log()


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        ([], {}, 2, "--model-uri is required"),
        (["--model-uri", "models:/only-a-name"], {}, 2, "is not a model URI"),
        (["--model-uri", "/no/such/model"], {}, 2, "no MLmodel file"),
        (["--model-uri", "models:/x@a", "--port", "0"], {}, 2, "--port"),
        (["--model-uri", "models:/x@a", "--workers", "0"], {}, 2, "--workers"),
        (["--model-uri", "models:/x@a"], {"MLOPS_SERVE_MAX_WAIT_MS": "-1"}, 2, "MLOPS_SERVE_MAX_WAIT_MS"),
        (["--model-uri", "models:/x@a"], {"MLOPS_SERVE_API_KEYS": ""}, 1, "no API keys configured"),
        (["--model-uri", "models:/x@a"], {"MLOPS_SERVE_API_KEYS_FILE": "/no/such/file"}, 1, "cannot be read"),
        (["--model-uri", "models:/x@a"], {"MLOPS_SERVE_API_KEYS": "k"}, 1, "shorter than 16 characters"),
        (["--model-uri", "models:/no-such-model@champion"], {}, 1, "registered model 'no-such-model' does not exist"),
        (["--model-uri", "models:/serving-test@no-such-alias"], {}, 1, "has no alias @no-such-alias"),
    ],
)
def test_usage_errors(pinned_model, args, env, code, message):
    result = run_mlops("serve", *args, env={"MLOPS_SERVE_API_KEYS": API_KEY, **env}, timeout=120)
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error(local_stack):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_mlops(
            "serve", "--model-uri", "models:/x@a", "--port", str(port), env={"MLOPS_SERVE_API_KEYS": API_KEY}
        )
    assert result.returncode == 1 and "cannot listen on" in result.stderr, result.stderr
