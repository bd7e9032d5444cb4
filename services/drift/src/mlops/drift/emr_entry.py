"""The drift job's entry point under spark-submit (EMR Serverless runs this file; `drift run --engine spark` calls
`spark_check` in-process): read the profile, count the window's capture objects on the profile's bins with the
Spark engine (mlops.drift.spark), run the one check (mlops.drift.check), write the report JSON to the output URI.

    spark-submit emr_entry.py --profile s3://.../profile.json --output s3://.../report.json \\
        --config '{"alpha": 0.01, ...}' --data-classes '{"email": "personal"}' \\
        --start 2026-11-30T11:00:00+00:00 --end 2026-11-30T12:00:00+00:00 --current s3://.../a.parquet ...

The arguments are built once, by mlops.drift.emr.job_arguments. On EMR, Spark reads s3:// itself (EMRFS); a
Spark without an S3 filesystem (pyspark from PyPI) gets the objects downloaded to a temporary folder first.
Exit codes: 0 the report is written, 1 an error (its message on stderr; no report written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops.drift.engines import WindowBounds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="emr_entry.py", description="Check a drift window with Spark.")
    parser.add_argument("--profile", required=True, help="s3:// URI (or path) of the reference profile JSON")
    parser.add_argument("--output", required=True, help="s3:// URI (or path) the report JSON is written to")
    parser.add_argument("--config", required=True, help="DriftConfig as JSON")
    parser.add_argument("--data-classes", default="{}", help="Data classes the capture applied, as JSON")
    parser.add_argument("--start", required=True, help="Window start (ISO 8601, exclusive)")
    parser.add_argument("--end", required=True, help="Window end (ISO 8601, inclusive)")
    parser.add_argument("--rows", type=int, help="Instead of the time window: the newest ROWS rows")
    parser.add_argument("--current", nargs="+", required=True, help="The window's capture objects (Parquet)")
    return parser.parse_args(argv)


def _s3():
    from mlops.core.clients import aws_client

    return aws_client("s3")


def read_text(uri: str) -> str:
    if uri.startswith("s3://"):
        bucket, key = uri[5:].split("/", 1)
        return _s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return Path(uri).read_text()


def write_text(uri: str, text: str) -> None:
    if uri.startswith("s3://"):
        bucket, key = uri[5:].split("/", 1)
        _s3().put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json")
        return
    from mlops.drift.profile import write_atomic

    write_atomic(Path(uri), text)


def spark_reads(spark: Any, scheme: str) -> bool:
    """Whether this Spark has a Hadoop filesystem for `scheme` (EMR: s3 through EMRFS; PyPI's pyspark: none)."""
    jvm = spark.sparkContext._jvm
    try:
        jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(scheme, spark.sparkContext._jsc.hadoopConfiguration())
    except Exception:  # py4j's error for "No FileSystem for scheme"
        return False
    return True


def readable(spark: Any, uris: list[str], folder: Path) -> list[str]:
    """The URIs as this Spark can read them: as given, or S3 objects downloaded into `folder`."""
    if not any(u.startswith("s3://") for u in uris) or spark_reads(spark, "s3"):
        return uris
    s3, local = _s3(), []
    for index, uri in enumerate(uris):
        bucket, key = uri[5:].split("/", 1)
        target = folder / f"{index:06d}.parquet"
        s3.download_file(bucket, key, str(target))
        local.append(str(target))
    return local


def window_data(spark: Any, paths: list[str], bounds: WindowBounds) -> tuple[Any, str]:
    """The capture objects as one Spark frame, cut to the window's rows exactly as the local engine cuts them
    (mlops.drift.data.capture_window): timestamps in (start, end], or the newest `rows`; and the name errors give it."""
    from pyspark.sql import functions as F

    from mlops.drift.data import DataError
    from mlops.drift.spark import data_errors

    where = f"the capture window ({len(paths)} objects from {paths[0]})"
    frame = data_errors(where, lambda: spark.read.parquet(*paths))
    if "timestamp" not in frame.columns:
        raise DataError(f"{where}: capture objects have no 'timestamp' column")
    micros = F.unix_micros(F.col("timestamp").cast("timestamp"))
    start, end = (int(t.timestamp() * 1_000_000) for t in (bounds.start, bounds.end))
    frame = frame.where((micros > start) & (micros <= end))
    if bounds.rows:
        frame = frame.orderBy(F.desc("timestamp")).limit(bounds.rows)
    return frame, where


def spark_check(spark: Any, profile: Any, uris: list[str], bounds: WindowBounds, config: Any,
                data_classes: dict[str, str]) -> dict:  # fmt: skip
    """The report of the window against `profile`: Spark's summaries (mlops.drift.spark), then the one check."""
    from mlops.drift.check import estimate_performance, matching_columns, run_check
    from mlops.drift.spark import summarise_frame

    with tempfile.TemporaryDirectory(prefix="mlops-drift-window-") as folder:
        frame, where = window_data(spark, readable(spark, uris, Path(folder)), bounds)
        window = summarise_frame(spark, profile, frame, where)
    matching_columns(profile, window.columns, where)
    report = run_check(profile, window.summaries, window.columns, config, current_rows=window.rows,
                       data_classes=data_classes)  # fmt: skip
    estimated = estimate_performance(profile, window.probabilities, config, window.labels)
    if estimated is not None:
        report["model"]["estimated_performance"] = estimated
    return report


def main(argv: list[str] | None = None) -> int:
    from mlops.core.errors import MlopsError
    from mlops.drift.config import DriftConfig
    from mlops.drift.engines import WindowBounds
    from mlops.drift.profile import ReferenceProfile
    from mlops.drift.publish import report_json
    from mlops.drift.spark import session

    args = parse_args(argv)
    try:
        profile = ReferenceProfile.from_dict(json.loads(read_text(args.profile)), args.profile)
        config = DriftConfig(**json.loads(args.config))
        classes = json.loads(args.data_classes)
        bounds = WindowBounds(dt.datetime.fromisoformat(args.start), dt.datetime.fromisoformat(args.end), args.rows)
    except (OSError, ValueError, TypeError, MlopsError) as exc:
        print(f"drift job: bad input: {exc}", file=sys.stderr)
        return 1
    spark = session()
    try:
        report = spark_check(spark, profile, args.current, bounds, config, classes)
    except MlopsError as exc:  # an unreadable object, a window of another model: the job fails with the reason
        print(f"drift job: {exc}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    write_text(args.output, report_json(report))  # rendered whole first: a failed job writes no report
    print(f"drift job: report {args.output}: drift share {report['drift_share']:.3f}")
    return 0


if __name__ == "__main__":
    # run as a file from inside the package (spark-submit .../mlops/drift/emr_entry.py), its folder would come first
    # on sys.path and its html.py shadow the standard library's; on EMR the file runs alone, from a scratch folder
    if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        sys.path.pop(0)
    sys.exit(main())
