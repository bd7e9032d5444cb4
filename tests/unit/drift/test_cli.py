"""`mlops drift profile|check` on good and bad input, in-process: a clear message and exit code per case, skipped
columns reported with a reason, never a traceback, never a half-written report. (Worker processes:
tests/integration/test_drift_workers.py; the console script: tests/integration/test_cli_process.py.)"""

import json

import numpy as np
import pandas as pd
import pytest

from tests.support.drift_cli import check, frame, invoke

pytestmark = pytest.mark.unit


def test_check_from_profile_and_from_raw_reference_agree(files):
    _, from_profile = check(files, files["cur"])
    out = files["dir"] / "raw.json"
    result = invoke("check", "--reference", files["ref"], "--current", files["cur"], "--json", out)
    assert result.exit_code == 0, result.output
    from_raw = json.loads(out.read_text())
    assert from_profile["drift_share"] == from_raw["drift_share"] == 0.0
    for name in ("x", "k", "c"):
        assert {"drift", "method", "statistic", "p_value", "threshold", "status"} <= set(from_raw["columns"][name])
        assert from_profile["columns"][name]["statistic"] == pytest.approx(from_raw["columns"][name]["statistic"])


def test_csv_current_is_read_in_chunks_like_parquet(files):
    csv = files["dir"] / "cur.csv"
    frame(2).to_csv(csv, index=False)
    _, from_csv = check(files, csv)
    _, from_parquet = check(files, files["cur"])
    assert from_csv["columns"]["x"]["statistic"] == pytest.approx(from_parquet["columns"]["x"]["statistic"])


def test_fail_on_drift_exits_3(files):
    drifted = files["dir"] / "drifted.parquet"
    frame(3).assign(x=lambda f: f.x + 1, k=lambda f: f.k * 2).to_parquet(drifted)
    result, report = check(files, drifted, "--fail-on-drift")
    assert result.exit_code == 3 and report["dataset_drift"] is True
    assert "DRIFT" in result.output


def test_missing_column_is_skipped_and_the_rest_is_checked(files):
    current = files["dir"] / "missing.parquet"
    frame(2).drop(columns=["k"]).to_parquet(current)
    result, report = check(files, current)
    assert result.exit_code == 0
    assert report["columns"]["k"]["status"] == "skipped"
    assert report["columns"]["k"]["reason"] == "missing from the current data"
    assert report["columns"]["x"]["status"] == "tested"
    assert "skipped k: missing from the current data" in result.output


def test_extra_column_is_listed_not_tested(files):
    current = files["dir"] / "extra.parquet"
    frame(2).assign(new_feature=1.0).to_parquet(current)
    result, report = check(files, current)
    assert result.exit_code == 0
    assert report["summary"]["extra_columns"] == ["new_feature"]
    assert "new_feature" not in report["columns"]
    assert "not in the profile, not tested: new_feature" in result.output


def test_changed_type_is_skipped_with_both_types(files):
    current = files["dir"] / "typed.parquet"
    frame(2).assign(x=lambda f: f.x.round(2).astype(str)).to_parquet(current)
    _, report = check(files, current)
    assert report["columns"]["x"]["status"] == "skipped"
    assert report["columns"]["x"]["reason"].startswith("type changed: reference float64 (numeric), current")


def test_all_null_current_column_still_gets_a_report(files):
    current = files["dir"] / "null.parquet"
    frame(2).assign(c=None).to_parquet(current)
    _, report = check(files, current)
    assert report["columns"]["c"]["drift"] is True
    assert report["columns"]["c"]["method"] == "missing_rate"


def test_all_null_reference_column_is_reported_when_profiling(tmp_path):
    ref = tmp_path / "ref.parquet"
    frame(1).assign(empty=np.nan).to_parquet(ref)
    result = invoke("profile", "--reference", ref, "--out", tmp_path / "p.json")
    assert result.exit_code == 0
    assert "'empty'" in result.output and "every reference value is missing" in result.output


def test_empty_window_is_an_error_and_writes_nothing(files):
    current = files["dir"] / "empty.parquet"
    frame(2).iloc[:0].to_parquet(current)
    result, report = check(files, current)
    assert result.exit_code == 1
    assert "the current window is empty (no rows)" in result.output
    assert report is None


def test_empty_csv_is_an_error(files):
    current = files["dir"] / "empty.csv"
    current.write_text("")
    result, _ = check(files, current)
    assert result.exit_code == 1 and "the file is empty" in result.output


@pytest.mark.parametrize("name", ["corrupt.parquet", "corrupt.csv"])
def test_corrupt_file_is_an_error_naming_it(files, name):
    current = files["dir"] / name
    current.write_bytes(b"\x00\x01PAR1 not really" * 10 if name.endswith("parquet") else b"x,k\n1,2\n3,4,5,6\n")
    result, report = check(files, current)
    assert result.exit_code == 1
    assert f"{current}: not a readable {name.split('.')[1]} file" in result.output
    assert report is None


def test_an_existing_report_is_not_clobbered_by_a_failed_check(files):
    out = files["dir"] / "report.json"
    out.write_text('{"previous": true}')
    current = files["dir"] / "empty.parquet"
    frame(2).iloc[:0].to_parquet(current)
    result, _ = check(files, current)
    assert result.exit_code == 1
    assert json.loads(out.read_text()) == {"previous": True}


def test_profile_from_another_model_is_refused(files):
    result, report = check(files, files["cur"], "--model", "churn")
    assert result.exit_code == 1
    assert "'fraud'" in result.output and "'churn'" in result.output
    assert report is None


def test_data_sharing_no_column_with_the_profile_is_refused(files):
    current = files["dir"] / "other.parquet"
    pd.DataFrame({"age": [1.0, 2.0], "city": ["a", "b"]}).to_parquet(current)
    result, _ = check(files, current)
    assert result.exit_code == 1
    assert "shares no column with the profile" in result.output and "another model" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not readable JSON"), ('{"columns": {}}', "is not a drift reference profile")],
)
def test_bad_profile_file(files, content, message):
    files["profile"].write_text(content)
    result, _ = check(files, files["cur"])
    assert result.exit_code == 1 and message in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--current", "CUR", "--json", "OUT"], "give exactly one of --reference and --profile"),
        (["--profile", "PROFILE", "--reference", "REF", "--current", "CUR", "--json", "OUT"], "exactly one"),
        (["--profile", "PROFILE", "--current", "data.txt", "--json", "OUT"], "unsupported file type '.txt'"),
        (["--profile", "PROFILE", "--current", "nope.parquet", "--json", "OUT"], "nope.parquet: no such file"),
        (["--profile", "PROFILE", "--current", "CUR", "--json", "OUT", "--alpha", "2"], "--alpha"),
        (["--profile", "PROFILE", "--current", "CUR", "--json", "OUT", "--numeric-method", "x"], "--numeric-method"),
        (["--profile", "PROFILE", "--current", "CUR", "--json", "OUT", "--importance", "IMP"], "--importance"),
    ],
)
def test_usage_errors_exit_2(files, args, message):
    (files["dir"] / "data.txt").write_text("x\n1\n")
    (files["dir"] / "imp.json").write_text('{"x": "high"}')
    names = {"CUR": files["cur"], "REF": files["ref"], "PROFILE": files["profile"], "OUT": files["dir"] / "o.json",
             "IMP": files["dir"] / "imp.json", "data.txt": files["dir"] / "data.txt",
             "nope.parquet": files["dir"] / "nope.parquet"}  # fmt: skip
    result = invoke("check", *[names.get(a, a) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_run_needs_exactly_one_window_and_a_valid_duration():
    assert invoke("run", "--model", "m").exit_code == 2
    bad = invoke("run", "--model", "m", "--window", "an hour")
    assert bad.exit_code == 2 and "not a duration like 30m, 1h or 7d" in bad.output


def _joint(seed: int, n: int = 4_000, flip: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    r = -0.8 if flip else 0.8
    return pd.DataFrame({"a": a, "b": r * a + 0.6 * rng.normal(size=n), "u": rng.normal(size=n)})


def test_a_joint_only_drift_is_multivariate_drift_and_fails_the_check(tmp_path):
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    _joint(1).to_parquet(ref)
    _joint(2, flip=True).to_parquet(cur)
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    result = invoke("check", "--reference", ref, "--current", cur, "--json", out, "--html", html, "--fail-on-drift")
    report = json.loads(out.read_text())
    assert report["drifted_columns"] == [] and report["multivariate"]["drift"] is True
    assert result.exit_code == 3 and "multivariate: DRIFT" in result.output
    assert len(result.output.strip().splitlines()) <= 2
    assert 'id="multivariate"' in html.read_text() and "Drift in how the 3 numeric features" in html.read_text()


def test_check_estimates_performance_from_the_capture_probabilities(tmp_path):
    rng = np.random.default_rng(3)

    def window(n: int, spread: float) -> pd.DataFrame:
        x = rng.normal(0, spread, n)
        p = 1 / (1 + np.exp(-2 * x))
        y = (rng.random(n) < p).astype(int)
        proba = [json.dumps({"0": 1 - v, "1": v}) for v in p]
        return pd.DataFrame({"x": x, "y": y, "prediction": (p >= 0.5).astype(int), "prediction_proba": proba})

    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    window(5_000, 2.0).to_parquet(ref)
    window(3_000, 0.5).drop(columns=["y"]).to_parquet(cur)
    profile, out, html = tmp_path / "p.json", tmp_path / "r.json", tmp_path / "r.html"
    made = invoke("profile", "--reference", ref, "--out", profile, "--target", "y", "--prediction", "prediction",
                  "--probabilities", "prediction_proba")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "prediction_proba" not in json.loads(profile.read_text())["columns"]
    result = invoke("check", "--profile", profile, "--current", cur, "--json", out, "--html", html)
    estimated = json.loads(out.read_text())["model"]["estimated_performance"]
    assert estimated["status"] == "tested" and estimated["drift"] is True
    assert "estimated accuracy" in result.output and "DROP" in result.output
    assert json.loads(out.read_text())["summary"]["extra_columns"] == []  # the capture's column is not a feature
    assert 'id="estimated-performance"' in html.read_text()
    usage = invoke("profile", "--reference", ref, "--out", profile, "--probabilities", "prediction_proba")
    assert usage.exit_code == 2 and "--probabilities needs --target" in usage.output


@pytest.mark.parametrize("name", ["corrupt.parquet", "empty.parquet"])
def test_a_bad_current_file_beside_a_raw_reference_is_an_error_naming_it(files, name):
    current = files["dir"] / name
    if name.startswith("corrupt"):
        current.write_bytes(b"\x00\x01PAR1 not really" * 10)
    else:
        frame(2).iloc[:0].to_parquet(current)
    result = invoke("check", "--reference", files["ref"], "--current", current, "--json", files["dir"] / "o.json")
    assert result.exit_code == 1 and str(current) in result.output


def test_check_with_nothing_to_write_prints_the_verdict_and_a_table_most_severe_first(files):
    drifted = files["dir"] / "drifted.parquet"
    frame(3).assign(x=lambda f: f.x + 1, k=lambda f: f.k * 2).to_parquet(drifted)
    result = invoke("check", "--profile", files["profile"], "--current", drifted)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("DRIFT: drift share")
    rows = [line.split()[0] for line in lines[2:5]]
    assert set(rows[:2]) == {"x", "k"} and rows[2] == "c"  # the two drifted columns before the unchanged one
    assert "drift: p (BH)" in lines[2] and "<= alpha 0.01 and wasserstein" in lines[2]
    assert "no drift: p (BH)" in lines[4]


def test_a_pandas_index_is_neither_a_feature_nor_an_extra_column(tmp_path):
    ref, cur, profile = tmp_path / "ref.parquet", tmp_path / "cur.parquet", tmp_path / "p.json"
    frame(1).iloc[::2].to_parquet(ref)  # not a RangeIndex: pandas writes it as __index_level_0__
    frame(2).set_index("k").to_parquet(cur)  # a named index: written as a column `k`, read back as the index
    assert invoke("profile", "--reference", ref, "--out", profile).exit_code == 0
    assert set(json.loads(profile.read_text())["columns"]) == {"x", "k", "c"}
    result = invoke("check", "--profile", profile, "--current", cur, "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["extra_columns"] == [] and "__index_level_0__" not in result.output
    assert report["columns"]["k"]["status"] == "skipped"  # the index is not data: k is missing, and says so


def test_without_target_the_label_params_yaml_names_is_not_profiled_as_a_feature(tmp_path, monkeypatch):
    ref, profile = tmp_path / "ref.parquet", tmp_path / "p.json"
    frame(1).assign(churned=lambda f: (f.x > 0).astype(int)).to_parquet(ref)
    monkeypatch.chdir(tmp_path)
    unlabelled = invoke("profile", "--reference", ref, "--out", profile)
    assert "every column is profiled as a feature" in unlabelled.output
    assert "churned" in json.loads(profile.read_text())["columns"]
    (tmp_path / "params.yaml").write_text("data:\n  target: churned\n  features: [x, k, c]\n")
    labelled = invoke("profile", "--reference", ref, "--out", profile)
    assert labelled.exit_code == 0 and "label column 'churned'" in labelled.output
    stored = json.loads(profile.read_text())
    assert stored["target"] == "churned"
