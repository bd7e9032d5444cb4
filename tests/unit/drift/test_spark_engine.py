"""`--engine` on `drift profile` and `drift check` without a JVM: the option's usage errors, a clear error when
pyspark is not installed, and the local engine never importing pyspark (its start-up stays as it was). The Spark
engine itself runs in tests/integration/test_drift_spark.py."""

from __future__ import annotations

import sys

import pytest

from tests.support.drift_cli import check, invoke

pytestmark = pytest.mark.unit


@pytest.fixture
def no_pyspark(monkeypatch):
    """pyspark as if not installed: importing it raises ImportError (None in sys.modules)."""
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)


def test_the_local_engine_checks_and_profiles_without_pyspark(files, no_pyspark):
    result, report = check(files, files["cur"], "--engine", "local")
    assert result.exit_code == 0, result.output
    assert report is not None and report["summary"]["current_rows"] == 2_000
    out = files["dir"] / "again.json"
    assert invoke("profile", "--reference", files["ref"], "--out", out).exit_code == 0


@pytest.mark.parametrize("command", ["check", "profile"])
def test_spark_without_pyspark_says_what_to_install(files, no_pyspark, command):
    if command == "check":
        args = ["check", "--profile", files["profile"], "--current", files["cur"], "--engine", "spark"]
    else:
        args = ["profile", "--reference", files["ref"], "--out", files["dir"] / "p.json", "--engine", "spark"]
    result = invoke(*args)
    assert result.exit_code == 1
    assert "pyspark" in result.output and "mlops-drift[spark]" in result.output and "--engine local" in result.output
    assert not (files["dir"] / "p.json").exists()


def test_a_uri_needs_the_spark_engine_and_a_data_file_type(files):
    uri = invoke("check", "--profile", files["profile"], "--current", "s3a://bucket/window.parquet")
    assert uri.exit_code == 2 and "--engine spark" in uri.output
    wrong = invoke("check", "--profile", files["profile"], "--current", "s3a://bucket/window.json", "--engine", "spark")
    assert wrong.exit_code == 2 and "window.json" in wrong.output and ".parquet or .csv" in wrong.output
    bad = invoke("check", "--profile", files["profile"], "--current", files["cur"], "--engine", "dask")
    assert bad.exit_code == 2 and "dask" in bad.output


# PySpark API that Spark 3.5 (EMR 7.x) lacks: the engine runs there, while only pyspark 4 is installed here
SPARK_4_ONLY = {"toArrow", "executionInfo"}  # (mapInArrow exists in 3.3+; its 4.0 options are not used)


def test_the_spark_engine_keeps_to_spark_3_5_and_the_emr_job_to_its_public_names():
    """An API check by reading the code (a call's signature, e.g. `createDataFrame` of a pyarrow Table, is not seen:
    the README lists what the engine keeps to)."""
    import ast
    from pathlib import Path

    from mlops.drift import emr_entry, spark, spark_profile

    for module in (spark, spark_profile, emr_entry):
        tree = ast.parse(Path(module.__file__).read_text())
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        assert not used & SPARK_4_ONLY, (module.__name__, used & SPARK_4_ONLY)
    source = Path(emr_entry.__file__).read_text()
    imported = [a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)
                and n.module == "mlops.drift.spark" for a in n.names]  # fmt: skip
    assert imported and not [name for name in imported if name.startswith("_")]
    assert "drift_spark" not in source  # no module alias to reach private names through
