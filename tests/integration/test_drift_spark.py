"""`--engine spark`: the same profile and the same report as the local engine, on pyspark local[2] (a JVM, so an
integration test; one session for the module, its start-up is most of the time).

Tolerance: p-values, effect sizes and statistics equal to 1e-9 relative. Counts (bins, categories, missing) are
exact integers on both engines, so every statistic computed from them is bit-for-bit the same; only sums of
floating-point values (a current mean and standard deviation, the sums beyond the reference range that the
Wasserstein distance uses, a profile's mean and standard deviation) are added in another order by Spark, which
moves them by about 1e-15 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.drift.check import run_check
from mlops.drift.config import DriftConfig
from mlops.drift.data import DataError, profile_file, summarise_file
from mlops.drift.profile import ReferenceProfile
from tests.support.drift_cli import invoke

pytestmark = pytest.mark.integration

pyspark = pytest.importorskip("pyspark")
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def spark():
    """One session for the module, tuned for seconds-long tests of tiny data: the JIT's quick tier only (the JVM's
    warm-up is most of such a run), two shuffle partitions (not 200), no adaptive re-planning of two-row stages."""
    from mlops.drift.spark import session

    with pytest.MonkeyPatch.context() as env:  # read by the java launcher, so only while the JVM starts
        env.setenv("JDK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        spark = session("local[2]")
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    yield spark
    spark.stop()


def window(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    """Two correlated numeric columns (the multivariate test), a count, text with missing values, a flag."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    text = rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    text[rng.random(n) < (0.05 + shift / 4)] = None
    if shift:
        text[rng.random(n) < 0.1] = "new"
    y = 0.8 * x + 0.5 * rng.normal(size=n)
    y[rng.random(n) < 0.02] = np.nan
    return pd.DataFrame({"x": x, "y": y, "k": rng.poisson(3, n), "c": text, "flag": rng.random(n) < 0.3})


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("spark")
    files = {"dir": root}
    frames = {"ref": window(1, 3_000), "same": window(2, 2_000), "drift": window(3, 2_000, shift=0.4)}
    for name, frame in frames.items():
        frame.to_parquet(root / f"{name}.parquet")
        frame.to_csv(root / f"{name}.csv", index=False)
        files[name] = root / f"{name}.parquet"
        files[f"{name}_csv"] = root / f"{name}.csv"
    profile = profile_file(files["ref"], model_name="fraud")
    files["profile"] = profile.save(root / "profile.json")
    return files


def assert_same_profile(local: ReferenceProfile, spark: ReferenceProfile) -> None:
    a, b = local.to_dict(), spark.to_dict()
    for key in set(a) - {"columns", "created_at", "multivariate"}:
        assert a[key] == b[key], key
    assert list(a["columns"]) == list(b["columns"])
    for name, column in a["columns"].items():
        for field, value in column.items():
            if field in ("mean", "std") and value is not None:  # sums in another order (module docstring)
                assert b["columns"][name][field] == pytest.approx(value, rel=TOLERANCE), (name, field)
            else:
                assert b["columns"][name][field] == value, (name, field)
    assert a["multivariate"]["columns"] == b["multivariate"]["columns"]
    assert np.allclose(a["multivariate"]["components"], b["multivariate"]["components"], rtol=TOLERANCE)
    assert a["multivariate"]["error"]["counts"] == b["multivariate"]["error"]["counts"]


def assert_same_report(local: dict, spark: dict) -> None:
    assert spark["dataset_drift"] == local["dataset_drift"]
    assert spark["drifted_columns"] == local["drifted_columns"]
    assert spark["summary"]["current_rows"] == local["summary"]["current_rows"]
    assert spark["summary"]["skipped_columns"] == local["summary"]["skipped_columns"]
    for name, column in local["columns"].items():
        other = spark["columns"][name]
        assert (other["status"], other["drift"], other["method"]) == (column["status"], column["drift"],
                                                                      column["method"]), name  # fmt: skip
        if column["status"] != "tested":
            assert other["reason"] == column["reason"]
            continue
        for test, result in column["tests"].items():
            for key in ("statistic", "p_value", "p_adjusted"):
                assert other["tests"][test][key] == pytest.approx(result[key], rel=TOLERANCE, abs=1e-300), (name, test)
            assert other["tests"][test]["drift"] == result["drift"]
    mv, other = local["multivariate"], spark["multivariate"]
    assert (other["status"], other["drift"]) == (mv["status"], mv["drift"])
    if mv["status"] == "tested":
        assert other["p_value"] == pytest.approx(mv["p_value"], rel=TOLERANCE)
        assert other["statistic"] == pytest.approx(mv["statistic"], rel=TOLERANCE)
    else:
        assert other["reason"] == mv["reason"]


def local_report(profile: ReferenceProfile, current: Path) -> dict:
    found = summarise_file(profile, current)
    return run_check(profile, found.summaries, found.columns, DriftConfig(), current_rows=found.rows)


def test_the_spark_profile_equals_the_local_one_from_parquet_and_csv(spark, data):
    from mlops.drift.spark_profile import profile_with_spark

    for source in (data["ref"], data["ref_csv"]):
        assert_same_profile(profile_file(source), profile_with_spark(source, spark=spark))


def test_above_the_sample_size_the_same_rows_are_sampled_and_every_value_is_counted(spark, data):
    """A sample smaller than the data: the same hashed rows give the same edges, Spark counts every value on them."""
    from mlops.drift.spark_profile import profile_with_spark

    local = profile_file(data["ref"], sample_rows=1_000)
    assert sum(local.columns["x"].counts) == local.columns["x"].count == 3_000  # every row counted, not the sample
    assert_same_profile(local, profile_with_spark(data["ref"], spark=spark, sample_limit=1_000))


@pytest.mark.parametrize("current", ["same", "drift", "drift_csv"])
def test_verdicts_p_values_and_effects_match_the_local_engine(spark, data, current):
    from mlops.drift.spark import check_with_spark

    profile = ReferenceProfile.load(data["profile"])
    local = local_report(profile, data[current])
    assert local["dataset_drift"] == (current != "same")  # both cases are meaningful
    assert_same_report(local, check_with_spark(profile, str(data[current]), DriftConfig(), spark=spark))


def test_label_free_estimate_matches(spark, tmp_path):
    from mlops.drift.check import estimate_performance
    from mlops.drift.spark import check_with_spark
    from mlops.drift.spark_profile import profile_with_spark

    def scored(seed: int, n: int, spread: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(0, spread, (n, 2))
        y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * x[:, 0] - 0.5 * x[:, 1]))).astype(int)
        p1 = 1 / (1 + np.exp(-2.5 * x[:, 0] - 0.8 * x[:, 1]))
        proba = [json.dumps({"0": 1 - p, "1": p}) for p in p1.tolist()]
        return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "y": y, "prediction": (p1 > 0.5).astype(int),
                             "prediction_proba": proba})  # fmt: skip

    reference, current = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    scored(1, 3_000, 2.0).to_parquet(reference)
    scored(2, 2_000, 0.7).to_parquet(current)
    roles = {"target": "y", "prediction": "prediction", "probabilities": "prediction_proba"}
    local = profile_file(reference, **roles)
    assert_same_profile(local, profile_with_spark(reference, spark=spark, **roles))
    found = summarise_file(local, current)
    expected = estimate_performance(local, found.probabilities, DriftConfig(), found.labels)
    report = check_with_spark(local, str(current), DriftConfig(), spark=spark)
    assert report["model"]["estimated_performance"] == expected


def test_the_cli_engine_option_writes_the_local_report(spark, data, tmp_path):
    out, local = tmp_path / "spark.json", tmp_path / "local.json"
    ran = invoke("check", "--profile", data["profile"], "--current", data["drift"], "--json", out, "--engine", "spark")
    assert ran.exit_code == 0, ran.output
    assert invoke("check", "--profile", data["profile"], "--current", data["drift"], "--json", local).exit_code == 0
    assert_same_report(json.loads(local.read_text()), json.loads(out.read_text()))
    assert "DRIFT" in ran.output


def test_a_missing_column_is_skipped_and_bad_files_are_named(spark, data, tmp_path):
    from mlops.drift.spark import check_with_spark

    profile = ReferenceProfile.load(data["profile"])
    partial = tmp_path / "partial.parquet"
    pd.read_parquet(data["same"]).drop(columns=["k"]).to_parquet(partial)
    report = check_with_spark(profile, str(partial), DriftConfig(), spark=spark)
    assert report["columns"]["k"]["reason"] == "missing from the current data"
    assert_same_report(local_report(profile, partial), report)

    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="corrupt.parquet"):
        check_with_spark(profile, str(corrupt), DriftConfig(), spark=spark)
    with pytest.raises(DataError, match="absent.parquet: no such file"):
        check_with_spark(profile, str(tmp_path / "absent.parquet"), DriftConfig(), spark=spark)
    ran = invoke("check", "--profile", data["profile"], "--current", corrupt, "--engine", "spark")
    assert ran.exit_code == 1 and "corrupt.parquet" in ran.output
