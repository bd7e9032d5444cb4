"""Input values never reach a log, a metric or an error body (issue 20, item 2). A sentinel value goes through a
real `mlops serve` (capture on, logs shipped to CloudWatch Logs on the local stack) in a valid request and in
malformed ones; then the server's log file, the log group, /metrics and every answer are searched for it. The
sentinel is in a personal column: the capture in S3 holds its keyed hash, never the value."""

from __future__ import annotations

import io
import json
import secrets
import time
import uuid

import httpx
import pyarrow.parquet as pq
import pytest

from mlops.core.data_classes import DATA_CLASSES_TAG, classes_tag, pseudonym
from tests.support.serving import PIP_REQUIREMENTS, auth, start_server

pytestmark = pytest.mark.integration
SENTINEL = f"sentinel-{uuid.uuid4().hex[:12]}@example.com"


def register(name: str) -> str:
    """A classifier whose signature has a text column (email, personal) it does not use, and two numbers."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"email": [f"u{i}@example.com" for i in range(200)], "f0": rng.random(200),
                          "f1": rng.random(200)})  # fmt: skip
    model = make_pipeline(ColumnTransformer([("numbers", "passthrough", ["f0", "f1"])]), LogisticRegression())
    model.fit(frame, (frame["f0"] > 0.5).astype(int))
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name,
                                        signature=infer_signature(frame, model.predict(frame)),
                                        serialization_format="cloudpickle",  # our own test model, this process
                                        pip_requirements=PIP_REQUIREMENTS)  # fmt: skip
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_model_version_tag(name, version, DATA_CLASSES_TAG, classes_tag({"email": "personal"}))
    return f"models:/{name}/{version}"


@pytest.fixture(scope="module")
def model(local_stack) -> tuple[str, str]:
    name = f"sentinel-{uuid.uuid4().hex[:8]}"
    return name, register(name)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "columns email are personal data"),
        ({"MLOPS_CAPTURE_HASH_KEY_PARAMETER": "/mlops/test/no-such-key"}, "/mlops/test/no-such-key"),
        ({"MLOPS_SERVE_CAPTURE_REDACT": "email"}, "MLOPS_SERVE_CAPTURE_REDACT is no longer read"),
    ],
)
def test_serving_refuses_to_start_rather_than_capture_personal_data_raw(model, env, expected, monkeypatch):
    """In-process through click: the refusal comes before any worker starts (the console script itself is the
    sentinel test's server)."""
    from click.testing import CliRunner

    from mlops.serving.cli import serve
    from tests.support.serving import API_KEY, free_port

    for variable, value in {"MLOPS_SERVE_CAPTURE_SAMPLE_RATE": "1", "MLOPS_SERVE_API_KEYS": API_KEY, **env}.items():
        monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(serve, ["--model-uri", model[1], "--port", str(free_port())])
    assert result.exit_code == 1, result.output
    assert expected in result.output and "Traceback" not in result.output
    if not env:
        assert "MLOPS_CAPTURE_HASH_KEY_PARAMETER" in result.output


def test_the_sentinel_appears_nowhere_but_hashed(local_stack, model, tmp_path):
    name, uri = model
    parameter, group = f"/mlops/test/{name}/hash-key", f"/mlops/test/{name}"
    key = secrets.token_hex(32)
    local_stack.boto3_client("ssm").put_parameter(Name=parameter, Value=key, Type="SecureString")
    env = {"MLOPS_SERVE_CAPTURE_SAMPLE_RATE": "1", "MLOPS_SERVE_CAPTURE_FLUSH_SECONDS": "1",
           "MLOPS_CAPTURE_HASH_KEY_PARAMETER": parameter, "MLOPS_LOG_GROUP": group}  # fmt: skip
    server = start_server(uri, tmp_path / "serve.log", workers=1, env=env)
    answers: list[httpx.Response] = []
    try:
        server.wait_ready()
        url, headers = server.url, {**auth(), "Content-Type": "application/json"}
        good = {"dataframe_records": [{"email": SENTINEL, "f0": 0.9, "f1": 0.1}]}
        bad_bodies = [
            json.dumps(good)[:-3],  # cut short: not JSON
            json.dumps({"dataframe_records": [{"email": SENTINEL, "f0": SENTINEL, "f1": 0.1}]}),  # text in a double
            json.dumps({"dataframe_records": [{"email": SENTINEL, "f0": 0.1}]}),  # a column missing
            json.dumps({"dataframe_split": {"columns": ["email", "f0", "f1"], "data": [[SENTINEL, 0.1]]}}),  # short
            json.dumps({"instances": [{"email": SENTINEL, "f0": 0.1, "f1": 0.2}], "inputs": [SENTINEL]}),  # two keys
        ]
        with httpx.Client(timeout=30) as client:
            answers.append(client.post(url + "/invocations", json=good, headers=auth()))
            assert answers[-1].status_code == 200, answers[-1].text
            for body in bad_bodies:
                answers.append(client.post(url + "/invocations", content=body, headers=headers))
                assert answers[-1].status_code in (400, 422), (answers[-1].status_code, answers[-1].text)
            answers.append(client.post(url + "/invocations", content=f"email,f0,f1\n{SENTINEL},x,1\n",
                                       headers={**auth(), "Content-Type": "text/csv"}))  # fmt: skip
            assert answers[-1].status_code in (400, 422)
            v2 = {"inputs": [{"name": "email", "datatype": "BYTES", "shape": [2], "data": [SENTINEL]}]}
            answers.append(client.post(url + f"/v2/models/{name}/infer", json=v2, headers=auth()))
            assert answers[-1].status_code == 422, answers[-1].text  # shape 2, one value
            answers.append(client.post(url + "/invocations", json=good))  # no key
            assert answers[-1].status_code == 401
            metrics = client.get(url + "/metrics", headers=auth()).text
        assert "mlops_serving_requests_total" in metrics and SENTINEL not in metrics
        for answer in answers:
            assert SENTINEL not in answer.text and SENTINEL not in str(answer.headers), answer.text

        s3 = local_stack.boto3_client("s3")
        deadline, bodies = time.monotonic() + 30, []
        while time.monotonic() < deadline and not bodies:
            listing = s3.list_objects_v2(Bucket="mlops-capture", Prefix=f"capture/{name}/")
            bodies = [s3.get_object(Bucket="mlops-capture", Key=o["Key"])["Body"].read()
                      for o in listing.get("Contents", [])]  # fmt: skip
            time.sleep(0.5)
        assert bodies, "the valid request was never captured"
        captured = [pq.read_table(io.BytesIO(b)).to_pandas() for b in bodies]
        assert pseudonym(key.encode(), SENTINEL) in {v for t in captured for v in t["email"]}  # hashed, there
        assert all(SENTINEL.encode() not in b for b in bodies) and all(SENTINEL not in t.to_csv() for t in captured)
    finally:
        assert server.stop() == 0, server.log()[-3000:]  # SIGTERM flushes the capture and the log shipping

    log = server.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert sum(1 for line in lines if line.get("logger") == "mlops.serving.access") >= len(answers)
    assert SENTINEL not in log
    logs = local_stack.boto3_client("logs")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    events = [e["message"] for s in streams
              for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]]  # fmt: skip
    assert any("mlops.serving.access" in e for e in events), "no access log line reached CloudWatch Logs"
    assert not [e for e in events if SENTINEL in e]
