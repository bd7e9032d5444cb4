"""`mlops privacy erase` on the local stack (issue 20, item 2): capture written by serving's real capture code to the
moto S3 (personal column hashed with the key from the moto SSM), labels beside it, then the real console command:
the subject's rows are gone from every object version, everyone else's rows are kept, the object tags survive and
an audit record without the value is in the artifact bucket. Bad input changes nothing and names what was wrong
(in-process through click, against the same stack: the console script's exit codes are the erase's own run)."""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow.types import ColSpec, Schema

from mlops.core.contracts import labels_prefix
from mlops.core.data_classes import DATA_CLASSES_TAG, CapturePolicy, classes_tag, load_hash_key, pseudonym
from mlops.core.settings import get_settings
from mlops.serving.capture import Capture
from mlops.serving.inputs import TabularSchema
from mlops.serving.model import LoadedModel
from tests.conftest import run_mlops

pytestmark = pytest.mark.integration
SUBJECT = "ann@example.com"
DECLARED = {"email": "personal", "notes": "sensitive", "segment": "public"}
SCHEMA = TabularSchema.from_mlflow(
    Schema([ColSpec("string", "email"), ColSpec("string", "segment"), ColSpec("double", "amount"),
            ColSpec("string", "notes")])
)  # fmt: skip


@pytest.fixture(scope="module")
def setup(local_stack):
    """A registered model declaring its classes, its hash key in SSM, two capture objects and their labels."""
    import mlflow

    name = f"privacy-{uuid.uuid4().hex[:8]}"
    parameter = f"/mlops/test/{name}/capture-hash-key"
    local_stack.boto3_client("ssm").put_parameter(Name=parameter, Value=secrets.token_hex(32), Type="SecureString")
    env = {"MLOPS_CAPTURE_HASH_KEY_PARAMETER": parameter}
    client = mlflow.MlflowClient()
    client.create_registered_model(name)
    client.create_model_version(name, source=f"s3://mlops-artifacts/{name}/model",
                                tags={DATA_CLASSES_TAG: classes_tag(DECLARED)})  # fmt: skip
    settings = get_settings(capture_hash_key_parameter=parameter, serve_capture_sample_rate=1.0)
    key = load_hash_key(settings)
    capture = Capture(settings, name, SCHEMA.columns, CapturePolicy.build(SCHEMA.names, DECLARED, key))
    model = LoadedModel(None, name, "1", f"models:/{name}/1", SCHEMA, data_classes=DECLARED)
    capture.versions.add("1")
    batches = [
        [[SUBJECT, "a", 10.0, "n1"], ["bob@example.com", "b", 20.0, "n2"], [SUBJECT, "a", 11.0, "n3"]],
        [[SUBJECT, "c", 12.0, "n4"]],  # an object holding only the subject: it goes
    ]
    keys, request_ids = [], []
    for i, rows in enumerate(batches):
        capture.offer(f"req-{i}", model, rows, np.arange(len(rows), dtype=float))
        keys.append(capture.flush())
        request_ids.append(f"req-{i}")
    s3 = local_stack.boto3_client("s3")
    labels = pa.table({"request_id": ["req-0", "req-1", "req-other"], "label": [1, 0, 1]})
    sink = io.BytesIO()
    pq.write_table(labels, sink)
    labels_key = f"{labels_prefix(name, dt.datetime.now(dt.UTC).date())}labels-0.parquet"
    s3.put_object(Bucket="mlops-capture", Key=labels_key, Body=sink.getvalue())
    return {"name": name, "env": env, "key": key, "capture_keys": keys, "labels_key": labels_key, "s3": s3}


def versions(s3, name: str) -> list[tuple[str, str]]:
    found = []
    for prefix in (f"capture/{name}/", f"labels/{name}/"):
        listing = s3.list_object_versions(Bucket="mlops-capture", Prefix=prefix)
        found += [(v["Key"], v["VersionId"]) for v in listing.get("Versions", [])]
    return sorted(found)


def read(s3, key: str, version_id: str | None = None):
    extra = {"VersionId": version_id} if version_id else {}
    return pq.read_table(io.BytesIO(s3.get_object(Bucket="mlops-capture", Key=key, **extra)["Body"].read()))


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["--key", "email" + SUBJECT], 2, "COLUMN=VALUE"),
        (["--key", f"phone={SUBJECT}"], 1, "has no column 'phone'"),
        (["--key", "notes=n1"], 1, "is sensitive"),
        (["--model", "no-such-model-x1", "--key", f"email={SUBJECT}"], 1, "'no-such-model-x1' does not exist"),
    ],
)
def test_bad_input_names_what_was_wrong_and_changes_nothing(setup, args, code, expected, monkeypatch):
    from click.testing import CliRunner

    from mlops.privacy.cli import privacy

    for variable, value in setup["env"].items():
        monkeypatch.setenv(variable, value)
    before = versions(setup["s3"], setup["name"])
    model = [] if "--model" in args else ["--model", setup["name"]]
    result = CliRunner().invoke(privacy, ["erase", *model, *args])
    assert result.exit_code == code, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert versions(setup["s3"], setup["name"]) == before
    audits = setup["s3"].list_objects_v2(Bucket="mlops-artifacts", Prefix=f"audit/privacy/erasures/{setup['name']}/")
    assert audits.get("KeyCount", 0) == 0


def test_erase_removes_the_subject_everywhere_keeps_the_rest_and_audits(setup):
    s3, name = setup["s3"], setup["name"]
    hashed = pseudonym(setup["key"], SUBJECT)
    assert read(s3, setup["capture_keys"][0]).column("email").to_pylist().count(hashed) == 2  # hashed, found

    result = run_mlops("privacy", "erase", "--model", name, "--key", f"email={SUBJECT}", "--env", "dev",
                       env=setup["env"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert len(line.splitlines()) == 1 and "erased 3 captured rows (2 objects) and 2 label rows (1 objects)" in line
    assert SUBJECT not in result.stdout + result.stderr

    kept = read(s3, setup["capture_keys"][0])
    assert kept.column("email").to_pylist() == [pseudonym(setup["key"], "bob@example.com")]
    assert kept.column("amount").to_pylist() == [20.0] and "notes" not in kept.column_names
    tags = s3.get_object_tagging(Bucket="mlops-capture", Key=setup["capture_keys"][0])["TagSet"]
    assert tags == [{"Key": "mlops-data-class", "Value": "personal"}]  # its retention still applies
    assert read(s3, setup["labels_key"]).column("request_id").to_pylist() == ["req-other"]
    for key, version_id in versions(s3, name):  # no version anywhere still holds the subject
        table = read(s3, key, version_id)
        assert "email" not in table.column_names or hashed not in table.column("email").to_pylist()
    remaining = {k for k, _ in versions(s3, name)}
    assert setup["capture_keys"][1] not in remaining and setup["capture_keys"][0] in remaining

    audits = s3.list_objects_v2(Bucket="mlops-artifacts", Prefix=f"audit/privacy/erasures/{name}/")["Contents"]
    assert len(audits) == 1 and audits[0]["Key"] in line
    text = s3.get_object(Bucket="mlops-artifacts", Key=audits[0]["Key"])["Body"].read().decode()
    record = json.loads(text)
    assert SUBJECT not in text and record["key_hash"] == hashed and record["env"] == "dev"
    assert record["model"] == name and record["column"] == "email" and record["actor"] and record["at"]
    assert record["rows"] == {"capture": 3, "labels": 2}
    actions = {(o["key"], o["action"], o["rows_removed"]) for o in record["objects"]}
    assert actions == {(setup["capture_keys"][0], "rewritten", 2), (setup["capture_keys"][1], "deleted", 1),
                       (setup["labels_key"], "rewritten", 2)}  # fmt: skip


def test_erasing_again_finds_nothing_and_is_audited_too(setup, monkeypatch):
    from click.testing import CliRunner

    from mlops.privacy.cli import privacy

    monkeypatch.setenv("MLOPS_CAPTURE_HASH_KEY_PARAMETER", setup["env"]["MLOPS_CAPTURE_HASH_KEY_PARAMETER"])
    prefix = f"audit/privacy/erasures/{setup['name']}/"
    audits_before = setup["s3"].list_objects_v2(Bucket="mlops-artifacts", Prefix=prefix).get("KeyCount", 0)
    for _ in range(2):  # the first run may find rows (when this test runs alone), the second finds none
        again = CliRunner().invoke(privacy, ["erase", "--model", setup["name"], "--key", f"email={SUBJECT}"])
        assert again.exit_code == 0, again.output
    assert "erased 0 captured rows (0 objects) and 0 label rows" in again.output
    audits = setup["s3"].list_objects_v2(Bucket="mlops-artifacts", Prefix=prefix).get("KeyCount", 0)
    assert audits == audits_before + 2  # each run is audited, the one that found nothing too
