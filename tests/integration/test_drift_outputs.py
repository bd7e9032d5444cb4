"""Drift outputs for real: the HTML report in headless Chromium, metrics scraped by a real Prometheus and sent
to the local stack's CloudWatch, and the scheduled job reading the S3 capture and writing the drift event."""

import datetime as dt
import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_mlops

pytestmark = pytest.mark.integration


def _frame(seed: int, n: int = 3_000, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(size=n) + shift,
            "age": rng.integers(18, 90, n),
            "country": rng.choice(["de", "fr", "it", "es"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "customer_id": [f"cust-{seed}-{i}" for i in range(n)],  # unique values: must not be embedded
        }
    )
    frame["prediction"] = (frame["amount"] > 2).astype(int)
    return frame


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift")
    _frame(1).to_parquet(folder / "ref.parquet")
    _frame(2, shift=1.5).to_parquet(folder / "cur.parquet")
    result = run_mlops("drift", "profile", "--reference", str(folder / "ref.parquet"), "--out",
                       str(folder / "profile.json"), "--model-name", "fraud", "--prediction", "prediction")  # fmt: skip
    assert result.returncode == 0, result.stderr
    outputs = ["--json", str(folder / "report.json"), "--html", str(folder / "report.html"), "--prom-dir",
               str(folder / "prom"), "--drift-share", "0.2"]  # fmt: skip
    result = run_mlops("drift", "check", "--profile", str(folder / "profile.json"), "--current",
                       str(folder / "cur.parquet"), *outputs)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_html_report_opens_in_headless_chromium(reports, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run `make system-deps`")
    html = reports / "report.html"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400"]  # fmt: skip
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", html.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout  # fmt: skip
    assert 'id="verdict"' in dom and "Dataset drift detected" in dom
    assert 'id="columns"' in dom and 'id="prediction-drift"' in dom
    assert dom.count('<svg class="plot"') == 5  # one chart per tested column, one of the reconstruction error
    assert 'id="multivariate"' in dom and "how the 2 numeric features move together" in dom  # amount, age
    assert 'id="col-amount"' in dom
    # the table puts the drifted column first and says why: the test, p against alpha, the effect against its bar
    first_row = dom.split('id="columns"')[1].split("<tr")[2]
    assert 'href="#col-amount"' in first_row and "drift: p (BH)" in first_row and "&lt;= alpha 0.01" in first_row
    assert dom.count('class="tick"') == 3 * 5  # every chart has a y axis in shares of rows
    # size bounded and aggregated: of 3,000 unique customer ids at most the top-20 chart labels appear
    text = html.read_text()
    assert len(text) < 150_000
    assert sum(f"cust-2-{i}<" in text for i in range(3_000)) <= 20


def test_metrics_reach_a_real_prometheus(reports, tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("prometheus is not installed: run `make system-deps`")
    exporter_port, prom_port = _free_port(), _free_port()
    mlops = str(Path(sys.executable).parent / "mlops")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: drift\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
    )
    exporter = subprocess.Popen([mlops, "drift", "exporter", "--dir", str(reports / "prom"), "--port",
                                 str(exporter_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    server = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        query = f"http://127.0.0.1:{prom_port}/api/v1/query?query=mlops_drift_column_score"
        results, deadline = [], time.monotonic() + 60
        while not results and time.monotonic() < deadline:
            time.sleep(1)
            try:
                with urllib.request.urlopen(query, timeout=2) as response:  # noqa: S310 - loopback
                    results = json.load(response)["data"]["result"]
            except OSError:
                continue
        assert results, "Prometheus never scraped the drift metrics"
        report = json.loads((reports / "report.json").read_text())
        scores = {r["metric"]["column"]: float(r["value"][1]) for r in results if r["metric"]["model"] == "fraud"}
        assert scores["amount"] == pytest.approx(report["columns"]["amount"]["statistic"])
        assert set(scores) == {"amount", "age", "country", "customer_id", "prediction"}
    finally:
        for proc in (server, exporter):
            proc.terminate()
            proc.wait(timeout=30)


def _put_parquet(s3, bucket: str, key: str, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


def _register_with_profile(model: str, reference: Path) -> None:
    """What training does: log the profile on the run, register the version, point the champion alias at it."""
    from mlflow.tracking import MlflowClient

    from mlops.drift.builder import build_profile
    from mlops.drift.mlflow_io import log_profile

    client = MlflowClient()
    experiment = client.create_experiment(f"drift-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment)
    frame = pd.read_parquet(reference).assign(label=lambda f: f["prediction"])
    log_profile(build_profile(frame, target="label", prediction="prediction", model_name=model), run.info.run_id)
    client.set_terminated(run.info.run_id)
    client.create_registered_model(model)
    version = client.create_model_version(model, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(model, "champion", version.version)


def test_scheduled_run_reads_the_capture_and_publishes_everything(local_stack, reports, tmp_path):
    settings, model = local_stack.settings, f"fraud-{uuid.uuid4().hex[:6]}"
    s3, cloudwatch = local_stack.boto3_client("s3"), local_stack.boto3_client("cloudwatch")
    _register_with_profile(model, reports / "ref.parquet")
    now = dt.datetime.now(dt.UTC)
    current = _frame(3, shift=1.5)
    current["request_id"] = [uuid.uuid4().hex for _ in range(len(current))]
    current["timestamp"] = pd.Timestamp(now) - pd.to_timedelta(np.arange(len(current)) % 1800, unit="s")
    current["model_version"] = "1"
    old = current.iloc[:500].assign(timestamp=pd.Timestamp(now - dt.timedelta(hours=3)))  # outside the window
    for part, frame in enumerate((current.iloc[:1500], current.iloc[1500:], old)):
        stamp = frame["timestamp"].iloc[0]
        key = f"capture/{model}/date={stamp:%Y-%m-%d}/{stamp:%H%M%S}-{part}.parquet"
        _put_parquet(s3, settings.capture_bucket, key, frame)
    labels = current[["request_id"]].assign(label=1 - current["prediction"])  # the model is now always wrong
    _put_parquet(s3, settings.capture_bucket, f"labels/{model}/date={now:%Y-%m-%d}/labels.parquet", labels)

    result = run_mlops("drift", "run", "--model", model, "--window", "1h", "--json", str(tmp_path / "r.json"),
                       "--drift-share", "0.2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["current_rows"] == 3_000 and report["summary"]["model_version"] == "1"
    assert report["dataset_drift"] is True and "amount" in report["drifted_columns"]
    performance = report["model"]["performance"]
    assert performance["status"] == "tested" and performance["drift"] is True
    assert performance["metrics"]["accuracy"]["current"] == 0.0

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.data_bucket,
                                                 Prefix=f"events/drift/{model}/").get("Contents", [])]  # fmt: skip
    assert len(keys) == 1
    event = json.loads(s3.get_object(Bucket=settings.data_bucket, Key=keys[0])["Body"].read())
    assert {"event_id", "model_name", "model_version", "detected_at", "dataset_drift", "drift_share",
            "drifted_columns", "report_uri"} <= set(event)  # fmt: skip
    assert event["model_name"] == model and event["dataset_drift"] is True
    bucket, key = event["report_uri"].removeprefix("s3://").split("/", 1)
    assert json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["drift_share"] == report["drift_share"]

    metrics = cloudwatch.list_metrics(Namespace="MLOps", Dimensions=[{"Name": "Model", "Value": model}])["Metrics"]
    names = {m["MetricName"] for m in metrics}
    assert {"DriftShare", "DatasetDrift", "ColumnDriftScore", "ColumnDrift"} <= names
    stats = cloudwatch.get_metric_statistics(
        Namespace="MLOps", MetricName="DriftShare", Dimensions=[{"Name": "Model", "Value": model}],
        StartTime=now - dt.timedelta(minutes=10), EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
        Period=60, Statistics=["Maximum"],
    )  # fmt: skip
    assert stats["Datapoints"][0]["Maximum"] == pytest.approx(report["drift_share"])


def _run_in_process(*args: str):
    """`mlops drift run` in this process (the stack's endpoints are in os.environ): saves a CLI start-up."""
    from click.testing import CliRunner

    from mlops.drift.cli import drift

    result = CliRunner().invoke(drift, ["run", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def test_scheduled_run_on_an_empty_window_says_so(local_stack, reports):
    profile = str(reports / "profile.json")
    result = _run_in_process("--model", "nobody", "--window", "1h", "--profile", profile, "--no-cloudwatch")
    assert result.exit_code == 1
    assert "the profile belongs to model 'fraud', not 'nobody'" in result.output
    result = _run_in_process("--model", "fraud", "--rows", "100", "--profile", profile, "--no-cloudwatch")
    assert result.exit_code == 1 and "the current window is empty" in result.output


def test_scheduled_run_without_a_registered_profile_says_how_to_fix_it(local_stack):
    result = _run_in_process("--model", "never-registered", "--window", "1h")
    assert result.exit_code == 1
    assert "no reference profile for 'never-registered'" in result.output
    assert "registered model 'never-registered' does not exist" in result.output


def _classifier_window(seed: int, n: int, spread: float) -> pd.DataFrame:
    """A classifier's capture: x moves (spread), P(y | x) does not; prediction_proba as serving writes it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, spread, n)
    p1 = 1 / (1 + np.exp(-2 * x))
    frame = pd.DataFrame({"x": x, "z": rng.normal(size=n), "prediction": (p1 >= 0.5).astype(int)})
    frame["prediction_proba"] = [json.dumps({"0": 1 - p, "1": p}) for p in p1]
    frame["label"] = (rng.random(n) < p1).astype(int)
    return frame


def test_scheduled_run_estimates_performance_before_labels_and_shows_it_beside_them(local_stack, tmp_path):
    """CBPE end to end: calibrated on the registered reference's probabilities, estimated on the captured
    prediction_proba of a window whose inputs moved toward the boundary; labels for half the rows have arrived."""
    from mlflow.tracking import MlflowClient

    from mlops.drift.builder import build_profile
    from mlops.drift.mlflow_io import log_profile

    settings, model = local_stack.settings, f"cbpe-{uuid.uuid4().hex[:6]}"
    s3, cloudwatch = local_stack.boto3_client("s3"), local_stack.boto3_client("cloudwatch")
    reference = _classifier_window(1, 5_000, 2.0)
    probabilities = pd.DataFrame({"0": 1 - reference["prediction_proba"].map(lambda t: json.loads(t)["1"]),
                                  "1": reference["prediction_proba"].map(lambda t: json.loads(t)["1"])})  # fmt: skip
    profile = build_profile(reference[["x", "z", "label", "prediction"]], target="label", prediction="prediction",
                            probabilities=probabilities, model_name=model)  # fmt: skip
    client = MlflowClient()
    run = client.create_run(client.create_experiment(f"cbpe-{uuid.uuid4().hex[:8]}"))
    log_profile(profile, run.info.run_id)
    client.create_registered_model(model)
    version = client.create_model_version(model, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(model, "champion", version.version)

    now = dt.datetime.now(dt.UTC)
    current = _classifier_window(2, 4_000, 0.5)
    current["request_id"] = [uuid.uuid4().hex for _ in range(len(current))]
    current["timestamp"] = pd.Timestamp(now) - pd.to_timedelta(np.arange(len(current)) % 1800, unit="s")
    current["model_version"] = "1"
    key = f"capture/{model}/date={now:%Y-%m-%d}/{now:%H%M%S}-0.parquet"
    _put_parquet(s3, settings.capture_bucket, key, current.drop(columns=["label"]))
    arrived = current.iloc[::2][["request_id", "label"]]
    _put_parquet(s3, settings.capture_bucket, f"labels/{model}/date={now:%Y-%m-%d}/l.parquet", arrived)

    result = _run_in_process("--model", model, "--window", "1h", "--json", str(tmp_path / "r.json"),
                             "--html", str(tmp_path / "r.html"))  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    estimated = report["model"]["estimated_performance"]
    accuracy = estimated["metrics"]["accuracy"]
    assert estimated["status"] == "tested" and estimated["rows"] == 4_000 and estimated["realized_rows"] == 2_000
    assert accuracy["estimated"] == pytest.approx(accuracy["realized"], abs=0.04)
    assert accuracy["reference"] - accuracy["estimated"] > 0.05 and estimated["drift"] is True
    assert "estimated accuracy" in result.output and "realised" in result.output
    html = (tmp_path / "r.html").read_text()
    assert 'id="estimated-performance"' in html and "realised" in html and 'id="multivariate"' in html

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.data_bucket,
                                                 Prefix=f"events/drift/{model}/").get("Contents", [])]  # fmt: skip
    event = json.loads(s3.get_object(Bucket=settings.data_bucket, Key=keys[0])["Body"].read())
    assert event["estimated_performance_drift"] is True
    assert event["estimated_performance"]["accuracy"] == pytest.approx(accuracy["estimated"])
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="MLOps", Dimensions=[
        {"Name": "Model", "Value": model}])["Metrics"]}  # fmt: skip
    assert {"EstimatedPerformance", "EstimatedPerformanceDrift", "MultivariateDrift"} <= names
