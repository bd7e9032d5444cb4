"""The gate's outcome on the command line: a rejection exits 3 (its own code, not an error's 1) with the outcome
written for CI; DVC's outputs (metrics.json is committed: `cache: false`) never make the tree dirty; and with no
tracking server every registry command stops at once, writing no `mlflow.db` anywhere."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.training import register as register_module
from mlops.training.gate import GateDecision
from mlops.training.project import pipeline_outputs, written_by_pipeline
from mlops.training.register import Registered

pytestmark = pytest.mark.unit
EXAMPLE = Path(__file__).resolve().parents[3] / "pipelines/src/mlops/training/example"


def _project(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "params.yaml"):
        (tmp_path / name).write_text((EXAMPLE / name).read_text())
    return tmp_path


def test_dvc_outputs_and_metrics_are_the_pipelines_not_uncommitted_code(tmp_path):
    outputs = pipeline_outputs(_project(tmp_path))
    assert outputs == {"data/prepared", "model", "metrics.json"}
    for written in ("metrics.json", "model/MLmodel", "data/prepared/train.parquet", "dvc.lock", "data/.gitignore"):
        assert written_by_pipeline(written, outputs), written
    for code in ("params.yaml", "dvc.yaml", "src/churn/train.py", "data/raw.csv.dvc", "metrics.json.bak"):
        assert not written_by_pipeline(code, outputs), code
    assert pipeline_outputs(tmp_path / "nowhere") == set()


@pytest.mark.parametrize(("passed", "code"), [(True, 0), (False, 3)])
def test_a_rejection_exits_3_with_the_outcome_written(monkeypatch, tmp_path, passed, code):
    project = _project(tmp_path / "project")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    reasons = [] if passed else ["roc_auc 0.8000 vs champion 0.9000: improvement -0.1000 is less than the required"]
    decision = GateDecision(passed, reasons, {"primary_metric": "roc_auc", "challenger": 0.8, "champion": 0.9})
    registered = Registered("example-model", "4", "run1", decision, "3", {})
    monkeypatch.setattr(register_module, "register", lambda settings, project, name: registered)
    outcome = tmp_path / "reports" / "train.json"
    result = CliRunner().invoke(cli, ["pipeline", "register", "--project", str(project), "--outcome", str(outcome)])
    assert result.exit_code == code, result.output
    verdict = "PASSED" if passed else "REJECTED"
    assert f"registered example-model version 4; gate {verdict}: roc_auc 0.8000 vs champion v3 0.9000" in result.output
    written = json.loads(outcome.read_text())
    assert written["decision"] == ("passed" if passed else "rejected") and written["version"] == "4"
    assert written["reasons"] == reasons and written["promoted"] is False


@pytest.mark.parametrize(
    "args",
    [
        ["pipeline", "register", "--project", "{project}", "--promote"],
        ["pipeline", "run", "--project", "{project}"],
        ["lineage", "models:/example-model@champion"],
        ["promote", "example-model", "1", "--reason", "x"],
    ],
)
def test_without_a_tracking_server_registry_commands_stop_at_once(monkeypatch, tmp_path, args):
    import mlflow

    project = _project(tmp_path / "project")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, [a.replace("{project}", str(project)) for a in args])
    assert result.exit_code == 1, result.output
    assert "no tracking server: run `mlops stack up` or set MLFLOW_TRACKING_URI" in result.output
    assert not list(tmp_path.rglob("mlflow.db")) and not list(tmp_path.rglob("mlruns"))
