"""Bad input to the pipeline: params with wrong types, changed data files, bad model URIs. No stack needed."""

import hashlib

import pytest
from click.testing import CliRunner

from mlops.core.errors import MlopsError
from mlops.training import stages
from mlops.training.cli import pipeline, reproduce
from mlops.training.example import HERE, make_dataset
from mlops.training.params import load_params
from mlops.training.project import Project

pytestmark = pytest.mark.unit


@pytest.fixture
def project_dir(tmp_path):
    """The example project's params with a raw file and a hand-written .dvc file (as `dvc add` writes it)."""
    (tmp_path / "params.yaml").write_text((HERE / "params.yaml").read_text())
    (tmp_path / "data").mkdir()
    raw = tmp_path / "data" / "raw.csv"
    make_dataset(rows=200).to_csv(raw, index=False)
    md5 = hashlib.md5(raw.read_bytes(), usedforsecurity=False).hexdigest()
    (tmp_path / "data" / "raw.csv.dvc").write_text(f"outs:\n- md5: {md5}\n  hash: md5\n  path: raw.csv\n")
    return tmp_path


def test_wrong_type_in_params_names_the_field(project_dir):
    path = project_dir / "params.yaml"
    path.write_text(path.read_text().replace("n_estimators: 30", "n_estimators: thirty"))
    with pytest.raises(MlopsError, match=r"params.yaml: train.n_estimators: .*integer.*'thirty'"):
        load_params(path)


def test_unknown_key_and_bad_yaml_are_reported(project_dir):
    path = project_dir / "params.yaml"
    path.write_text(path.read_text().replace("  seed: 42\ntrain:", "  seed: 42\n  sede: 1\ntrain:"))
    with pytest.raises(MlopsError, match=r"prepare.sede: Extra inputs are not permitted"):
        load_params(path)
    path.write_text("model_name: [unclosed")
    with pytest.raises(MlopsError, match="is not valid YAML"):
        load_params(path)


def test_prepare_train_evaluate_write_the_stage_outputs(project_dir):
    project = Project(project_dir)
    counts = stages.prepare(project)
    assert counts == {"train_rows": 150, "test_rows": 50}
    stages.train(project)
    assert (project_dir / "model" / "MLmodel").is_file()
    result = stages.evaluate(project)
    assert result["roc_auc"] > 0.8 and set(result["slices"]) == {"segment=a", "segment=b", "segment=c"}
    assert (project_dir / "metrics.json").is_file()


def test_changed_data_file_is_a_checksum_mismatch(project_dir):
    with (project_dir / "data" / "raw.csv").open("a") as handle:
        handle.write("0.1,0.2,0.3,a,1\n")
    with pytest.raises(MlopsError, match=r"checksum mismatch for data/raw.csv: its md5 is \w+ but .* records"):
        stages.prepare(Project(project_dir))
    assert not (project_dir / "data" / "prepared").exists()  # nothing half-written


def test_missing_data_version_says_to_pull(project_dir):
    (project_dir / "data" / "raw.csv").unlink()
    with pytest.raises(MlopsError, match=r"data file data/raw.csv is missing; run `dvc pull`"):
        stages.prepare(Project(project_dir))


def test_missing_columns_are_named(project_dir):
    path = project_dir / "params.yaml"
    path.write_text(path.read_text().replace("features: [x1, x2, x3]", "features: [x1, x9]"))
    with pytest.raises(MlopsError, match=r"lacks the columns \['x9'\]"):
        stages.prepare(Project(project_dir))


def test_cli_bad_params_is_exit_1_without_traceback(project_dir):
    path = project_dir / "params.yaml"
    path.write_text(path.read_text().replace("test_size: 0.25", "test_size: 2"))
    result = CliRunner().invoke(pipeline, ["prepare", "--project", str(project_dir)])
    assert result.exit_code == 1
    assert "prepare.test_size" in result.stderr and "less than 1" in result.stderr
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_cli_usage_error_exits_2_naming_the_option():
    result = CliRunner().invoke(reproduce, ["models:/m/1", "--tolerance", "-1"])
    assert result.exit_code == 2 and "--tolerance" in result.stderr
