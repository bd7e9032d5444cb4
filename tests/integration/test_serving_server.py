"""`mlops serve` as a real process (2 workers) over real HTTP, on a model registered on the local stack's MLflow:
every payload format against MLflow's own scoring server, V2, bad input, auth, CORS, batching, capture."""

from __future__ import annotations

import concurrent.futures as cf
import io
import json
import time

import httpx
import pandas as pd
import pytest

from tests.support.serving import (
    API_KEY,
    FEATURES,
    auth,
    metric_value,
    start_server,
    training_frame,
)

pytestmark = pytest.mark.integration
MARKER = "PAYLOAD-MARKER-7f3a"  # planted in bad bodies: it must never come back in an answer
ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def server(pinned_model, tmp_path_factory):  # noqa: F811
    import mlflow

    from mlops.core.data_classes import DATA_CLASSES_TAG, classes_tag

    # f1 is sensitive data: the capture leaves it out (the tag registration writes from params.yaml data.classes)
    mlflow.MlflowClient().set_model_version_tag("serving-test", "1", DATA_CLASSES_TAG, classes_tag({"f1": "sensitive"}))
    env = {
        "MLOPS_SERVE_MAX_BODY_BYTES": str(64 * 1024),
        "MLOPS_SERVE_CORS_ORIGINS": ORIGIN,
        "MLOPS_SERVE_CAPTURE_SAMPLE_RATE": "1",
        "MLOPS_SERVE_CAPTURE_FLUSH_SECONDS": "1",
        "MLOPS_SERVE_MAX_WAIT_MS": "5",
    }
    srv = start_server(pinned_model, tmp_path_factory.mktemp("serve") / "serve.log", workers=2, env=env)
    try:
        srv.wait_ready()
        yield srv
    finally:
        assert srv.stop() == 0, srv.log()[-3000:]


@pytest.fixture(scope="module")
def mlflow_scoring(pinned_model):  # noqa: F811
    """MLflow's own scoring server app, in process: the reference answers."""
    import mlflow.pyfunc
    from mlflow.pyfunc import scoring_server
    from starlette.testclient import TestClient

    return TestClient(scoring_server.init(mlflow.pyfunc.load_model(pinned_model)))


def rows(n: int = 3, seed: int = 5) -> pd.DataFrame:
    return training_frame(n, seed)


def post(server, body, content_type="application/json", headers=None, path="/invocations"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(
        server.url + path, content=data, headers={"Content-Type": content_type, **auth(), **(headers or {})}
    )


def payloads(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    records = frame.to_dict(orient="records")
    split = json.loads(frame.to_json(orient="split", index=False))
    reordered = frame[list(reversed(FEATURES))]
    return {
        "dataframe_split": ("application/json", json.dumps({"dataframe_split": split})),
        "dataframe_split_reordered": (
            "application/json",
            json.dumps({"dataframe_split": json.loads(reordered.to_json(orient="split", index=False))}),
        ),
        "dataframe_records": ("application/json", json.dumps({"dataframe_records": records})),
        "instances": ("application/json", json.dumps({"instances": records})),
        "inputs_columns": ("application/json", json.dumps({"inputs": frame.to_dict(orient="list")})),
        "csv": ("text/csv", frame.to_csv(index=False)),
        "json_charset": ("application/json; charset=utf-8", json.dumps({"dataframe_records": records})),
    }


@pytest.mark.parametrize("fmt", list(payloads(rows()).keys()))
def test_every_payload_format_matches_mlflow(server, mlflow_scoring, fmt):
    content_type, body = payloads(rows())[fmt]
    ours = post(server, body, content_type)
    theirs = mlflow_scoring.post("/invocations", content=body, headers={"Content-Type": content_type})
    assert theirs.status_code == 200, theirs.text
    assert ours.status_code == 200, ours.text
    assert ours.json() == theirs.json()
    assert ours.headers["x-model-version"] == "1"
    assert len(ours.headers["x-request-id"]) >= 16


def test_rows_in_signature_order_match_mlflow_on_the_frame(server, pinned_model):  # noqa: F811
    import mlflow.pyfunc

    frame = rows(4)
    ours = post(server, {"inputs": frame.values.tolist()})
    assert ours.status_code == 200, ours.text
    expected = mlflow.pyfunc.load_model(pinned_model).predict(frame).tolist()
    assert ours.json() == {"predictions": expected}


def test_v2_routes(server, mlflow_scoring):
    frame = rows(3)
    expected = mlflow_scoring.post("/invocations", json={"dataframe_records": frame.to_dict(orient="records")}).json()[
        "predictions"
    ]
    meta = httpx.get(server.url + "/v2/models/serving-test", headers=auth()).json()
    assert meta["versions"] == ["1"] and [i["name"] for i in meta["inputs"]] == FEATURES
    assert httpx.get(server.url + "/v2/models/serving-test/ready", headers=auth()).json()["ready"] is True
    assert httpx.get(server.url + "/v2/health/ready").status_code == 200
    by_column = {
        "id": "req-1",
        "inputs": [
            {"name": c, "shape": [3], "datatype": "INT64" if c == "count" else "FP64", "data": frame[c].tolist()}
            for c in FEATURES
        ],
    }
    answer = post(server, by_column, path="/v2/models/serving-test/infer").json()
    assert answer["id"] == "req-1" and answer["model_version"] == "1"
    assert answer["outputs"][0]["data"] == expected and answer["outputs"][0]["shape"] == [3]
    one_tensor = {"inputs": [{"name": "x", "shape": [3, 5], "datatype": "FP64", "data": frame.values.tolist()}]}
    answer = post(server, one_tensor, path="/v2/models/serving-test/versions/1/infer").json()
    assert answer["outputs"][0]["data"] == expected


def _split(data, columns=None):
    return {"dataframe_split": {"columns": columns or FEATURES, "data": data}}


GOOD_ROW = [0.1, 0.2, 0.3, 0.4, 3]
BAD_INPUTS = {
    # name: (content type, body, expected status, field named in the error)
    "invalid_json": ("application/json", '{"dataframe_split": ' + MARKER, 400, "body"),
    "not_an_object": ("application/json", json.dumps([MARKER]), 400, "body"),
    "no_format_key": ("application/json", json.dumps({"rows": [MARKER]}), 400, "body"),
    "two_format_keys": ("application/json", json.dumps({"inputs": [GOOD_ROW], "instances": [GOOD_ROW]}), 400, "body"),
    "missing_column": (
        "application/json",
        json.dumps(_split([GOOD_ROW[:4]], FEATURES[:4])),
        422,
        "dataframe_split.count",
    ),
    "wrong_type": (
        "application/json",
        json.dumps(_split([[MARKER, 0.2, 0.3, 0.4, 3]])),
        422,
        "dataframe_split.data[0].f0",
    ),
    "float_for_long": (
        "application/json",
        json.dumps(_split([[0.1, 0.2, 0.3, 0.4, 2.5]])),
        422,
        "dataframe_split.data[0].count",
    ),
    "null_required": (
        "application/json",
        json.dumps({"dataframe_records": [{**dict(zip(FEATURES, GOOD_ROW, strict=True)), "f2": None}]}),
        422,
        "dataframe_records[0].f2",
    ),
    "short_row": ("application/json", json.dumps({"inputs": [GOOD_ROW[:3]]}), 422, "inputs"),
    "no_rows": ("application/json", json.dumps(_split([])), 422, "dataframe_split.data"),
    "records_not_objects": (
        "application/json",
        json.dumps({"dataframe_records": [MARKER]}),
        422,
        "dataframe_records[0]",
    ),
    "csv_bad_value": ("text/csv", "f0,f1,f2,f3,count\n0.1,0.2,0.3,0.4," + MARKER + "\n", 422, "csv"),
    "csv_missing_column": ("text/csv", "f0,f1\n0.1,0.2\n", 422, "csv.f2"),
    "not_utf8": ("text/csv", b"f0,f1,f2,f3,count\n\xff\xfe\n", 400, "body"),
    "unsupported_type": ("application/xml", "<" + MARKER + "/>", 415, "content-type"),
    "latin1_charset": ("application/json; charset=latin-1", json.dumps(_split([GOOD_ROW])), 415, "content-type"),
    "too_large": ("application/json", json.dumps(_split([GOOD_ROW] * 3000)), 413, "body"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_a_clear_4xx_without_echo(server, case):
    content_type, body, status, field = BAD_INPUTS[case]
    answer = post(server, body, content_type)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["field"] == field and error["error"]
    assert MARKER not in answer.text
    assert "Traceback" not in answer.text


def test_missing_content_type_and_routes(server):
    answer = httpx.post(server.url + "/invocations", content=b"{}", headers=auth())
    assert answer.status_code == 415 and answer.json()["field"] == "content-type"
    assert httpx.get(server.url + "/nope", headers=auth()).status_code == 404
    assert httpx.get(server.url + "/invocations", headers=auth()).status_code == 405
    assert httpx.get(server.url + "/v2/models/serving-test/infer", headers=auth()).status_code == 405
    v2_bad = {"inputs": [{"name": "f0", "shape": [1], "datatype": "BYTES", "data": [MARKER]}]}
    answer = post(server, v2_bad, path="/v2/models/serving-test/infer")
    assert answer.status_code == 422 and answer.json()["field"] == "inputs[0]" and MARKER not in answer.text
    assert post(server, v2_bad, path="/v2/models/other/infer").status_code == 404


def test_client_errors_never_count_as_500(server):
    text = httpx.get(server.url + "/metrics", headers=auth()).text
    assert metric_value(text, "mlops_serving_requests_total", {"status": "500"}) == 0
    assert metric_value(text, "mlops_serving_requests_total", {"status": "422"}) > 0


def test_auth(server):
    body = json.dumps(_split([GOOD_ROW]))
    json_type = {"Content-Type": "application/json"}
    assert httpx.post(server.url + "/invocations", content=body, headers=json_type).status_code == 401
    wrong = {**json_type, "Authorization": "Bearer wrong-key"}
    answer = httpx.post(server.url + "/invocations", content=body, headers=wrong)
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert (
        httpx.post(server.url + "/invocations", content=body, headers={**json_type, "X-API-Key": API_KEY}).status_code
        == 200
    )
    for path in ("/metrics", "/v2", "/v2/models/serving-test"):
        assert httpx.get(server.url + path).status_code == 401, path
    for path in ("/health/live", "/health/ready"):
        assert httpx.get(server.url + path).status_code == 200, path


def test_cors_only_for_configured_origin(server):
    def preflight(origin):
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        return httpx.options(server.url + "/invocations", headers=headers)

    assert preflight(ORIGIN).headers.get("access-control-allow-origin") == ORIGIN
    assert "access-control-allow-origin" not in preflight("https://evil.example.com").headers


def test_batching_merges_concurrent_requests_without_mixing_answers(server, mlflow_scoring):
    before = httpx.get(server.url + "/metrics", headers=auth()).text
    frames = [rows(1 + i % 3, seed=100 + i) for i in range(64)]
    expected = [
        mlflow_scoring.post("/invocations", json={"dataframe_records": f.to_dict(orient="records")}).json()
        for f in frames
    ]
    with httpx.Client(headers=auth(), limits=httpx.Limits(max_connections=32)) as client:

        def call(frame):
            body = {"dataframe_records": frame.to_dict(orient="records")}
            return client.post(server.url + "/invocations", json=body, timeout=30).json()

        with cf.ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(call, frames))
    assert answers == expected
    after = httpx.get(server.url + "/metrics", headers=auth()).text
    batches = metric_value(after, "mlops_serving_batch_requests_count") - metric_value(
        before, "mlops_serving_batch_requests_count"
    )
    merged = metric_value(after, "mlops_serving_batch_requests_sum") - metric_value(
        before, "mlops_serving_batch_requests_sum"
    )
    assert merged == 64
    assert batches < 64, "no two requests were ever merged into one predict call"


def test_capture_lands_in_s3_without_the_sensitive_column(server, local_stack):
    import pyarrow.parquet as pq

    frame = rows(2, seed=42)
    answer = post(server, {"dataframe_records": frame.to_dict(orient="records")})
    request_id = answer.headers["x-request-id"]
    s3 = local_stack.boto3_client("s3")
    deadline, found = time.monotonic() + 30, None
    while time.monotonic() < deadline and found is None:
        listing = s3.list_objects_v2(Bucket="mlops-capture", Prefix="capture/serving-test/date=")
        for obj in listing.get("Contents", []):
            body = s3.get_object(Bucket="mlops-capture", Key=obj["Key"])["Body"].read()
            table = pq.read_table(io.BytesIO(body)).to_pandas()
            if request_id in set(table["request_id"]):
                found = (obj["Key"], table[table["request_id"] == request_id])
        time.sleep(0.5)
    assert found is not None, "captured rows never reached S3"
    key, captured = found
    assert key.endswith(".parquet") and "/date=" in key
    assert {"request_id", "timestamp", "model_version", "prediction", *FEATURES} - {"f1"} <= set(captured.columns)
    assert "f1" not in captured.columns  # sensitive: never captured
    tags = s3.get_object_tagging(Bucket="mlops-capture", Key=key)["TagSet"]
    assert tags == [{"Key": "mlops-data-class", "Value": "internal"}]  # what its retention follows
    assert captured["f0"].tolist() == frame["f0"].tolist()
    assert captured["prediction"].tolist() == answer.json()["predictions"]
    assert set(captured["model_version"]) == {"1"}


def test_access_log_is_json_with_request_id_latency_and_version(server):
    answer = post(server, _split([GOOD_ROW]), headers={"X-Request-ID": "trace-abc-123"})
    assert answer.headers["x-request-id"] == "trace-abc-123"
    time.sleep(0.3)
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{") and "trace-abc-123" in line]
    access = [entry for entry in lines if entry["logger"] == "mlops.serving.access"]
    assert access and access[0]["status"] == 200 and access[0]["model_version"] == "1"
    assert access[0]["latency_ms"] > 0 and access[0]["path"] == "/invocations"
    assert MARKER not in server.log()


def test_real_prometheus_scrapes_all_workers_and_loads_the_alert_rules(server, tmp_path):
    import shutil
    import subprocess

    import yaml

    from tests.support.serving import REPO_ROOT, free_port

    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: run `make system-deps`"
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted((REPO_ROOT / "monitoring/prometheus/rules").glob("*.yml"))],
        "scrape_configs": [
            {
                "job_name": "mlops-serve",
                "authorization": {"type": "Bearer", "credentials": API_KEY},
                "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    args = [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with (tmp_path / "prometheus.log").open("wb") as log:
        prom = subprocess.Popen(args, stdout=log, stderr=log)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline, result = time.monotonic() + 60, []
        while time.monotonic() < deadline and not result:
            time.sleep(1)
            try:
                query = 'sum(mlops_serving_model_info{model_name="serving-test",model_version="1"})'
                result = httpx.get(f"{api}/query", params={"query": query}, timeout=5).json()["data"]["result"]
            except httpx.HTTPError:
                continue
        assert result, (tmp_path / "prometheus.log").read_text()[-2000:]
        assert float(result[0]["value"][1]) == 1  # the live workers' values, combined (max) by the collector
        ok = httpx.get(f"{api}/query", params={"query": 'sum(mlops_serving_requests_total{status="200"})'}).json()
        assert float(ok["data"]["result"][0]["value"][1]) > 0
        up = httpx.get(f"{api}/query", params={"query": 'up{job="mlops-serve"}'}).json()["data"]["result"]
        assert up[0]["value"][1] == "1"
        rules = httpx.get(f"{api}/rules").json()["data"]["groups"]
        names = {r["name"] for g in rules for r in g["rules"]}
        assert {"MlopsServingHighErrorRate", "MlopsServingNoModelLoaded", "MlopsServingHighLatencyP99"} <= names
        assert all(r["health"] == "ok" for g in rules for r in g["rules"])
    finally:
        prom.terminate()
        prom.wait(30)
