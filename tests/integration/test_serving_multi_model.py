"""One `mlops serve` process serving two models registered on the local stack (issue 19): each answers on its own
routes and V2, `/invocations` by the header X-Mlops-Model (400 without it), readiness lists both versions, the
metrics and the capture objects are per model, moving one model's alias swaps that model alone, and a duplicate
model or a bad URI stops the command before any worker starts."""

from __future__ import annotations

import io
import time

import httpx
import pytest

from tests.conftest import run_mlops
from tests.support.serving import (
    API_KEY,
    FEATURES,
    auth,
    metric_value,
    register_classifiers,
    register_versions,
    start_server,
    training_frame,
)

pytestmark = pytest.mark.integration
REGRESSOR, CLASSIFIER = "multi-regressor", "multi-classifier"  # different outputs: a mixed-up route shows


@pytest.fixture(scope="module")
def served(local_stack, tmp_path_factory):
    import mlflow.pyfunc

    register_versions(REGRESSOR, 2)
    register_classifiers(CLASSIFIER, 1)
    frame = training_frame(3, seed=11)
    expected = {
        (REGRESSOR, "1"): mlflow.pyfunc.load_model(f"models:/{REGRESSOR}/1").predict(frame).tolist(),
        (REGRESSOR, "2"): mlflow.pyfunc.load_model(f"models:/{REGRESSOR}/2").predict(frame).tolist(),
        (CLASSIFIER, "1"): mlflow.pyfunc.load_model(f"models:/{CLASSIFIER}/1").predict(frame).tolist(),
    }
    env = {
        "MLOPS_SERVE_RELOAD_INTERVAL_SECONDS": "0.5",
        "MLOPS_SERVE_CAPTURE_SAMPLE_RATE": "1",
        "MLOPS_SERVE_CAPTURE_FLUSH_SECONDS": "1",
    }
    uris = [f"models:/{REGRESSOR}@champion", f"models:/{CLASSIFIER}@champion"]
    srv = start_server(uris, tmp_path_factory.mktemp("multi") / "serve.log", env=env)
    try:
        srv.wait_ready()
        yield srv, frame, expected
    finally:
        assert srv.stop() == 0, srv.log()[-3000:]


def _post(srv, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(srv.url + path, json=body, headers={**auth(), **(headers or {})}, timeout=30)


def test_each_model_answers_on_its_routes_v2_and_by_header(served):
    srv, frame, expected = served
    body = {"dataframe_records": frame.to_dict(orient="records")}
    for name in (REGRESSOR, CLASSIFIER):
        answer = _post(srv, f"/models/{name}/invocations", body)
        assert answer.status_code == 200 and answer.headers["x-model-version"] == "1", answer.text
        assert answer.json()["predictions"] == expected[(name, "1")]
        by_header = _post(srv, "/invocations", body, {"X-Mlops-Model": name})
        assert by_header.json()["predictions"] == expected[(name, "1")]
        tensors = {"inputs": [{"name": c, "shape": [3], "datatype": "FP64" if c != "count" else "INT64",
                               "data": frame[c].tolist()} for c in FEATURES]}  # fmt: skip
        v2 = _post(srv, f"/v2/models/{name}/versions/1/infer", tensors)
        assert v2.status_code == 200 and v2.json()["model_name"] == name, v2.text
        assert v2.json()["outputs"][0]["data"] == expected[(name, "1")]
        metadata = httpx.get(f"{srv.url}/v2/models/{name}", headers=auth()).json()
        assert metadata["name"] == name and [i["name"] for i in metadata["inputs"]] == FEATURES
        assert httpx.get(f"{srv.url}/v2/models/{name}/ready", headers=auth()).json() == {"name": name, "ready": True}

    without = _post(srv, "/invocations", body)
    assert without.status_code == 400 and without.json()["field"] == "x-mlops-model"
    assert REGRESSOR in without.json()["error"] and CLASSIFIER in without.json()["error"]
    assert _post(srv, "/invocations", body, {"X-Mlops-Model": "ghost"}).status_code == 404
    assert _post(srv, "/models/ghost/invocations", body).status_code == 404
    assert httpx.get(f"{srv.url}/v2/models/ghost/ready", headers=auth()).status_code == 404

    ready = httpx.get(srv.url + "/health/ready", headers=auth()).json()
    assert ready["status"] == "ready" and "model_name" not in ready  # the single-model fields: one model only
    assert {name: entry["version"] for name, entry in ready["models"].items()} == {REGRESSOR: "1", CLASSIFIER: "1"}
    assert httpx.get(srv.url + "/health/ready").json() == {"status": "ready"}  # no key: nothing about the models

    paths = httpx.get(srv.url + "/openapi.json", headers=auth()).json()["paths"]
    for name in (REGRESSOR, CLASSIFIER):
        assert FEATURES[0] in str(paths[f"/models/{name}/invocations"]["post"]["requestBody"])
        assert f"/v2/models/{name}/versions/{{version}}/infer" in paths


def test_metrics_and_capture_are_per_model(served, local_stack):
    import pandas as pd

    srv, frame, _ = served
    body = {"dataframe_records": frame.to_dict(orient="records")}
    models = (REGRESSOR, CLASSIFIER)
    ids = {name: _post(srv, f"/models/{name}/invocations", body).headers["x-request-id"] for name in models}
    assert _post(srv, "/invocations", body, {"X-Mlops-Model": "ghost"}).status_code == 404
    text = httpx.get(srv.url + "/metrics", headers=auth()).text
    for name in models:
        route = {"route": "/models/{name}/invocations", "status": "200", "model": name}
        assert metric_value(text, "mlops_serving_requests_total", route) >= 1
        assert metric_value(text, "mlops_serving_batch_rows_count", {"model": name}) >= 1
        assert metric_value(text, "mlops_serving_predict_duration_seconds_count", {"model": name}) >= 1
        assert metric_value(text, "mlops_serving_model_info", {"model_name": name, "model_version": "1"}) == 1
        assert metric_value(text, "mlops_serving_registry_up", {"model": name}) == 1
    invented = {"route": "/invocations", "status": "404", "model": "ghost"}
    assert metric_value(text, "mlops_serving_requests_total", invented) == 0  # a caller's name is never a label

    s3 = local_stack.boto3_client("s3")
    deadline, found = time.monotonic() + 30, {}
    while time.monotonic() < deadline and len(found) < 2:
        for name in models:
            listing = s3.list_objects_v2(Bucket="mlops-capture", Prefix=f"capture/{name}/date=")
            for obj in listing.get("Contents", []):
                stored = s3.get_object(Bucket="mlops-capture", Key=obj["Key"])["Body"].read()
                table = pd.read_parquet(io.BytesIO(stored))
                if ids[name] in set(table["request_id"]):
                    found[name] = table
                other = ids[CLASSIFIER if name == REGRESSOR else REGRESSOR]
                assert other not in set(table["request_id"]), "a model's rows were captured under another's key"
        time.sleep(0.5)
    assert set(found) == {REGRESSOR, CLASSIFIER}, "a model's captured rows never reached S3"
    assert "prediction_proba" in found[CLASSIFIER].columns  # each capture follows its own model
    assert "prediction_proba" not in found[REGRESSOR].columns


def test_moving_one_models_alias_swaps_that_model_alone(served):
    import mlflow

    srv, frame, expected = served
    body = {"dataframe_records": frame.to_dict(orient="records")}
    mlflow.MlflowClient().set_registered_model_alias(REGRESSOR, "champion", "2")
    deadline, answer = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        answer = _post(srv, f"/models/{REGRESSOR}/invocations", body)
        if answer.headers.get("x-model-version") == "2":
            break
        time.sleep(0.2)
    assert answer is not None and answer.headers["x-model-version"] == "2", srv.log()[-2000:]
    assert answer.json()["predictions"] == expected[(REGRESSOR, "2")]
    other = _post(srv, "/invocations", body, {"X-Mlops-Model": CLASSIFIER})
    assert other.headers["x-model-version"] == "1" and other.json()["predictions"] == expected[(CLASSIFIER, "1")]
    ready = httpx.get(srv.url + "/health/ready", headers=auth()).json()["models"]
    assert {name: entry["version"] for name, entry in ready.items()} == {REGRESSOR: "2", CLASSIFIER: "1"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([f"models:/{REGRESSOR}@champion", f"models:/{REGRESSOR}/1"], 2, f"both name the model '{REGRESSOR}'"),
        ([f"models:/{CLASSIFIER}@champion", "models:/no-such-model@champion"], 1,
         "model 'no-such-model': registered model 'no-such-model' does not exist"),
    ],
)  # fmt: skip
def test_a_duplicate_model_or_a_bad_uri_stops_the_command(served, args, code, message):
    """The real command; the other usage errors of the URI list are in tests/unit/serving/test_routing.py."""
    flags = [arg for uri in args for arg in ("--model-uri", uri)]
    result = run_mlops("serve", *flags, env={"MLOPS_SERVE_API_KEYS": API_KEY}, timeout=120)
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
