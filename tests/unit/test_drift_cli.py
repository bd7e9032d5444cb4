"""`mlops drift profile|check` on good and bad input: a clear message and exit code per case, skipped columns
reported with a reason, never a traceback, never a half-written report."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlops.drift.cli import drift
from tests.conftest import run_mlops

pytestmark = pytest.mark.unit


def _frame(seed: int, n: int = 2_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "k": rng.poisson(3, n), "c": rng.choice(list("abc"), n)})


@pytest.fixture
def files(tmp_path):
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    _frame(1).to_parquet(ref)
    _frame(2).to_parquet(cur)
    profile = tmp_path / "profile.json"
    result = invoke("profile", "--reference", ref, "--out", profile, "--model-name", "fraud")
    assert result.exit_code == 0, result.output
    return {"ref": ref, "cur": cur, "profile": profile, "dir": tmp_path}


def invoke(*args):
    result = CliRunner().invoke(drift, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def check(files, current, *extra):
    out = files["dir"] / "report.json"
    result = invoke("check", "--profile", files["profile"], "--current", current, "--json", out, *extra)
    return result, (json.loads(out.read_text()) if out.exists() else None)


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
    _frame(2).to_csv(csv, index=False)
    _, from_csv = check(files, csv)
    _, from_parquet = check(files, files["cur"])
    assert from_csv["columns"]["x"]["statistic"] == pytest.approx(from_parquet["columns"]["x"]["statistic"])


def test_fail_on_drift_exits_3(files):
    drifted = files["dir"] / "drifted.parquet"
    _frame(3).assign(x=lambda f: f.x + 1, k=lambda f: f.k * 2).to_parquet(drifted)
    result, report = check(files, drifted, "--fail-on-drift")
    assert result.exit_code == 3 and report["dataset_drift"] is True
    assert "DRIFT" in result.output


def test_missing_column_is_skipped_and_the_rest_is_checked(files):
    current = files["dir"] / "missing.parquet"
    _frame(2).drop(columns=["k"]).to_parquet(current)
    result, report = check(files, current)
    assert result.exit_code == 0
    assert report["columns"]["k"]["status"] == "skipped"
    assert report["columns"]["k"]["reason"] == "missing from the current data"
    assert report["columns"]["x"]["status"] == "tested"
    assert "skipped k: missing from the current data" in result.output


def test_extra_column_is_listed_not_tested(files):
    current = files["dir"] / "extra.parquet"
    _frame(2).assign(new_feature=1.0).to_parquet(current)
    result, report = check(files, current)
    assert result.exit_code == 0
    assert report["summary"]["extra_columns"] == ["new_feature"]
    assert "new_feature" not in report["columns"]
    assert "not in the profile, not tested: new_feature" in result.output


def test_changed_type_is_skipped_with_both_types(files):
    current = files["dir"] / "typed.parquet"
    _frame(2).assign(x=lambda f: f.x.round(2).astype(str)).to_parquet(current)
    _, report = check(files, current)
    assert report["columns"]["x"]["status"] == "skipped"
    assert report["columns"]["x"]["reason"].startswith("type changed: reference float64 (numeric), current")


def test_all_null_current_column_still_gets_a_report(files):
    current = files["dir"] / "null.parquet"
    _frame(2).assign(c=None).to_parquet(current)
    _, report = check(files, current)
    assert report["columns"]["c"]["drift"] is True
    assert report["columns"]["c"]["method"] == "missing_rate"


def test_all_null_reference_column_is_reported_when_profiling(tmp_path):
    ref = tmp_path / "ref.parquet"
    _frame(1).assign(empty=np.nan).to_parquet(ref)
    result = invoke("profile", "--reference", ref, "--out", tmp_path / "p.json")
    assert result.exit_code == 0
    assert "column 'empty' cannot be tested: every reference value is missing" in result.output


def test_empty_window_is_an_error_and_writes_nothing(files):
    current = files["dir"] / "empty.parquet"
    _frame(2).iloc[:0].to_parquet(current)
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
    _frame(2).iloc[:0].to_parquet(current)
    result, _ = check(files, current)
    assert result.exit_code == 1
    assert json.loads(out.read_text()) == {"previous": True}


def test_profile_from_another_model_is_refused(files):
    result, report = check(files, files["cur"], "--model", "churn")
    assert result.exit_code == 1
    assert "the profile belongs to model 'fraud', not 'churn'" in result.output
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
        (["--profile", "PROFILE", "--current", "CUR"], "nothing to write"),
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


def test_real_command_reports_errors_without_a_traceback(files):
    result = run_mlops("drift", "check", "--profile", str(files["dir"] / "absent.json"), "--current",
                       str(files["cur"]), "--json", str(files["dir"] / "o.json"))  # fmt: skip
    assert result.returncode == 1
    assert "absent.json does not exist" in result.stderr and "Traceback" not in result.stderr


def test_parquet_row_groups_split_across_processes_give_the_same_report(files):
    current = files["dir"] / "groups.parquet"
    _frame(2, n=4_000).to_parquet(current, row_group_size=1_000)
    _, one = check(files, current, "--workers", "1")
    _, two = check(files, current, "--workers", "2")
    assert one["summary"]["current_rows"] == two["summary"]["current_rows"] == 4_000
    for name in ("x", "k", "c"):
        assert one["columns"][name]["statistic"] == pytest.approx(two["columns"][name]["statistic"])
