"""`mlops drift`: profile, check, run (the scheduled job) and exporter (serves metrics to Prometheus).

Exit codes: 0 checked, 1 an error with a message (unreadable file, empty window, wrong profile), 2 a usage
error, 3 dataset drift with --fail-on-drift.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, NoReturn

import click

from mlops.core.settings import get_settings

# drift's matrix products are small (thousands of rows x the numeric features): a second BLAS thread gains nothing
# there and, spinning beside our own reader threads on a busy machine, cost up to a second (set before numpy loads)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
log = logging.getLogger("mlops.drift")
DRIFT_EXIT_CODE = 3
path_type = click.Path(dir_okay=False, path_type=Path)


def _data_file(ctx, param, value: str | None) -> Path | str | None:
    """A data file argument must exist and be Parquet or CSV (a usage error otherwise: exit 2). With `--engine
    spark` it may also be a URI (s3a://, s3://: Spark reads it), kept as text."""
    from mlops.drift.data import DataError, file_format

    if value is None:
        return None
    uri = "://" in value
    try:
        file_format(Path(value.split("://", 1)[-1].rstrip("/")))
    except DataError as exc:
        raise click.BadParameter(str(exc)) from None
    if uri:
        if ctx.params.get("engine") != "spark":
            raise click.BadParameter(f"{value}: a URI is read with --engine spark; the local engine reads files")
        return value
    if not Path(value).is_file():
        raise click.BadParameter(f"{value}: no such file")
    return Path(value)


data_file: dict[str, Any] = {"type": str, "callback": _data_file}
# eager, so a data argument's check knows the engine (Spark also reads s3a:// URIs)
engine_option = click.option(
    "--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True, is_eager=True,
    help="local: this process (Arrow, numpy); spark: Spark aggregations (local[*], or the spark-submit master), "
    "same summaries and report; needs the `spark` extra.",
)  # fmt: skip


def _fail(exc: Exception) -> NoReturn:
    raise click.ClickException(str(exc)) from None


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        """A bug must still not show users a traceback: report it as an error naming what failed."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            log.error("drift command failed", exc_info=True)
            raise click.ClickException(f"unexpected error ({type(exc).__name__}: {exc})") from None


@click.group(cls=_Group)
def drift() -> None:
    """Data and model drift: reference profiles, checks, reports and metrics."""


@drift.command()
@click.option("--reference", required=True, **data_file, help="Training data (.parquet or .csv).")
@click.option("--out", required=True, type=path_type, help="Where to write the profile JSON.")
@click.option("--target", help="Label column (enables performance drift).")
@click.option("--prediction", help="Model output column (enables prediction drift).")
@click.option("--probabilities", help="Column of JSON {class: probability} per row, as the capture holds it "
              "(with --target: calibrates label-free performance estimation).")  # fmt: skip
@click.option("--model-name", help="Model the profile belongs to (checked by `drift check --model`).")
@click.option("--categorical", default="", help="Comma-separated columns to treat as categories.")
@click.option("--log-to-run", "run_id", help="Also log the profile to this MLflow run as drift/reference_profile.json.")
@engine_option
def profile(reference, out, target, prediction, probabilities, model_name, categorical, run_id, engine) -> None:
    """Compute the reference profile of training data, once (streamed: memory does not grow with the file)."""
    from mlops.core.errors import MlopsError
    from mlops.drift.data import DataError, file_columns, profile_file
    from mlops.drift.profile import ProfileError

    try:
        spark, columns = None, None
        if engine == "spark":
            from mlops.drift.spark import read, session

            spark = session()
            columns = read(spark, reference).columns
        else:
            columns = file_columns(reference)
        if target is None:
            target = _target_from_params(columns)
        if probabilities and not target:
            raise click.UsageError("--probabilities needs --target (the calibration compares them with the labels)")
        forced = [c.strip() for c in categorical.split(",") if c.strip()]
        policy = _capture_policy(columns, {target, prediction, probabilities})
        options = dict(target=target, prediction=prediction, probabilities=probabilities, model_name=model_name,
                       categorical=forced, policy=policy)  # fmt: skip
        if spark is not None:
            from mlops.drift.spark_profile import profile_with_spark

            result = profile_with_spark(reference, spark=spark, **options)
        else:
            result = profile_file(reference, **options)
        result.save(out)
        if run_id:
            from mlops.drift.mlflow_io import log_profile

            click.echo(f"logged {log_profile(result, run_id)}")
    except (DataError, ProfileError, MlopsError, OSError) as exc:
        _fail(exc)
    skipped = {n: c.reason for n, c in result.columns.items() if c.reason}
    click.echo(f"profiled {len(result.columns)} columns of {result.rows} rows -> {out}")
    for name, reason in skipped.items():
        click.echo(f"  column {name!r} cannot be tested: {reason}", err=True)


PARAMS_FILE = Path("params.yaml")  # a model project's parameters, in the directory the command runs in


def _params_data() -> dict:
    """params.yaml's `data` section in the directory the command runs in ({} without the file)."""
    if not PARAMS_FILE.is_file():
        return {}
    import yaml

    try:
        params = yaml.safe_load(PARAMS_FILE.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{PARAMS_FILE.resolve()}: cannot read it: {exc}") from None
    data = params.get("data") if isinstance(params, dict) else None
    return data if isinstance(data, dict) else {}


def _capture_policy(columns: list[str], roles: set[str | None]):
    """The capture's policy for the reference's feature columns: the classes params.yaml declares (`data.classes`),
    the inferred ones for the rest, and the hash key when a column is personal. The profile then holds the
    reference as the capture stores it: hashes for personal columns, no sensitive ones (mlops.drift.privacy)."""
    from mlops.core.data_classes import CapturePolicy, classes_for, load_hash_key, parse_classes

    declared = parse_classes(_params_data().get("classes"), f"{PARAMS_FILE} data.classes")
    features = [c for c in columns if c not in roles]
    classes = classes_for(features, declared)
    key = load_hash_key(get_settings()) if "personal" in classes.values() else None
    policy = CapturePolicy.build(features, declared, key)
    if policy.personal or policy.sensitive:
        click.echo(f"data classes: {', '.join(policy.personal) or 'none'} hashed, "
                   f"{', '.join(policy.sensitive) or 'none'} left out, as the capture stores them")  # fmt: skip
    return policy


def _target_from_params(columns: list[str]) -> str | None:
    """Without --target, the label a model project's params.yaml names (`data.target`) when the file has that
    column, so the label is not profiled as a feature; otherwise every column is a feature, and the user is told."""
    label = _params_data().get("target")
    if isinstance(label, str) and label in columns:
        click.echo(f"label column {label!r} (params.yaml's data.target): profiled as the target, not as a feature")
        return label
    click.echo("no --target: every column is profiled as a feature (give --target LABEL if the data has labels)",
               err=True)  # fmt: skip
    return None


def _config(alpha, drift_share, numeric_method, categorical_method, importance, estimated_drop):
    from mlops.drift.config import DriftConfig

    weights = {}
    if importance:
        try:
            weights = json.loads(Path(importance).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise click.BadParameter(f"cannot read {importance}: {exc}", param_hint="--importance") from None
        if not isinstance(weights, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in weights.values()
        ):
            raise click.BadParameter("expected a JSON object of column -> weight >= 0", param_hint="--importance")
    return DriftConfig(alpha=alpha, drift_share=drift_share, numeric_method=numeric_method,
                       categorical_method=categorical_method, importance=weights,
                       estimated_drop=estimated_drop)  # fmt: skip


def check_options(func):
    from mlops.drift.config import CATEGORICAL_METHODS, NUMERIC_METHODS

    options = [
        click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.01,
                     show_default=True, help="False discovery rate (Benjamini-Hochberg over all tests)."),
        click.option("--drift-share", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
                     help="Dataset drift when this share of tested columns (importance-weighted) drifts."),
        click.option("--numeric-method", type=click.Choice(NUMERIC_METHODS), default="wasserstein",
                     show_default=True, help="Effect size for numeric columns (the p-value is always KS)."),
        click.option("--categorical-method", type=click.Choice(CATEGORICAL_METHODS), default="jensenshannon",
                     show_default=True, help="Effect size for categorical columns (p-value: chi-square)."),
        click.option("--importance", type=click.Path(dir_okay=False), help="JSON {column: weight} for drift share."),
        click.option("--estimated-drop", type=click.FloatRange(0, 1), default=0.05, show_default=True,
                     help="Estimated (label-free) drop of accuracy, F1 or AUC below the reference that counts as "
                          "drift; 0 reports the estimate without acting on it."),
        click.option("--json", "json_out", type=path_type, help="Write the JSON report here."),
        click.option("--html", "html_out", type=path_type, help="Write the HTML report here."),
        click.option("--prom-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Write Prometheus metrics (textfile format) to DIR/<model>.prom."),
        click.option("--cloudwatch/--no-cloudwatch", default=None,
                     help="Send metrics to CloudWatch (default: on for `run`, off for `check`)."),
        click.option("--fail-on-drift", is_flag=True,
                     help=f"Exit {DRIFT_EXIT_CODE} on dataset, multivariate or estimated performance drift."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _finish(report, model, json_out, html_out, prom_dir, cloudwatch, fail_on_drift, *, show_table=False):
    from mlops.drift import publish

    try:
        publish.write_report(report, json_out, html_out)
        if prom_dir:
            publish.write_textfile(report, model, prom_dir)
        if cloudwatch:
            from mlops.core.clients import aws_client

            settings = get_settings()
            publish.put_cloudwatch(aws_client("cloudwatch", settings), settings.metrics_namespace, report, model)
    except OSError as exc:
        _fail(exc)
    from mlops.drift.check import any_drift

    drifted = any_drift(report)
    columns = ", ".join(report["drifted_columns"]) or "none"
    click.echo(f"{'DRIFT' if drifted else 'no drift'}: drift share {report['drift_share']:.1%}; drifted columns: "
               f"{columns}{_multivariate_text(report['multivariate'])}")  # fmt: skip
    estimated = _estimate_text((report.get("model") or {}).get("estimated_performance"))
    if estimated:
        click.echo(estimated)
    if show_table:
        from mlops.drift.verdicts import table

        click.echo("\n".join(table(report)))
    for name in report["summary"]["skipped_columns"]:
        click.echo(f"  skipped {name}: {report['columns'][name]['reason']}", err=True)
    if report["summary"]["extra_columns"]:
        click.echo(f"  not in the profile, not tested: {', '.join(report['summary']['extra_columns'])}", err=True)
    if fail_on_drift and drifted:
        raise SystemExit(DRIFT_EXIT_CODE)


def _multivariate_text(result: dict) -> str:
    if result["status"] != "tested":
        return ""
    return f"; multivariate: {'DRIFT' if result['drift'] else 'no drift'} ({result['statistic']:.3g})"


def _estimate_text(result: dict | None) -> str:
    if not result or result["status"] != "tested":
        return ""
    name = "accuracy"
    m = result["metrics"][name]
    text = f"estimated {name} {m['estimated']:.3f} ({m['lower']:.3f}-{m['upper']:.3f}), reference {m['reference']:.3f}"
    if "realized" in m:
        text += f", realised {m['realized']:.3f}"
    return text + ("; estimated performance DROP" if result["drift"] else "")


@drift.command()
@click.option("--reference", **data_file, help="Raw reference data (a profile is built on the fly).")
@click.option("--profile", "profile_path", type=path_type, help="A stored reference profile (JSON).")
@click.option("--current", required=True, **data_file, help="Current data (.parquet or .csv).")
@click.option("--model", help="Model name: must match the profile's, labels the metrics.")
@click.option("--workers", type=click.IntRange(1, 64), help="Processes for Parquet (default: every core).")
@engine_option
@check_options
def check(reference, profile_path, current, model, workers, engine, alpha, drift_share, numeric_method,
          categorical_method, importance, estimated_drop, json_out, html_out, prom_dir, cloudwatch,
          fail_on_drift) -> None:  # fmt: skip
    """Compare current data with a profile (or raw reference): print the verdict, and write the report (without
    --json, --html, --prom-dir or --cloudwatch: a table of the columns, most severe first)."""
    from concurrent.futures import ThreadPoolExecutor

    from mlops.core.errors import MlopsError
    from mlops.drift.check import estimate_performance, matching_columns, run_check
    from mlops.drift.data import DataError, profile_file, read_whole, summarise_file
    from mlops.drift.profile import ProfileError, ReferenceProfile

    if (reference is None) == (profile_path is None):
        raise click.UsageError("give exactly one of --reference and --profile")
    config = _config(alpha, drift_share, numeric_method, categorical_method, importance, estimated_drop)
    if engine == "spark":
        try:
            ref, report = _check_with_spark(reference, profile_path, current, model, config)
        except MlopsError as exc:
            _fail(exc)
        show_table = not (json_out or html_out or prom_dir or cloudwatch)
        _finish(report, model or ref.model_name or "unknown", json_out, html_out, prom_dir, cloudwatch,
                fail_on_drift, show_table=show_table)  # fmt: skip
        return
    try:
        if profile_path:
            ref, whole = ReferenceProfile.load(profile_path), None
        else:  # read the current file in the background while the reference is profiled (Arrow frees the GIL)
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = pool.submit(read_whole, current)
                ref = profile_file(reference)
                whole = pending.result()
        if model and ref.model_name and ref.model_name != model:
            raise ProfileError(f"the profile belongs to model {ref.model_name!r}, not {model!r}")
        window = summarise_file(ref, current, workers=workers, whole=whole)
        matching_columns(ref, window.columns, str(current))
        report = run_check(ref, window.summaries, window.columns, config, current_rows=window.rows)
        estimated = estimate_performance(ref, window.probabilities, config, window.labels)
        if estimated is not None:
            report["model"]["estimated_performance"] = estimated
    except (DataError, ProfileError) as exc:
        _fail(exc)
    # with nothing to write, the verdict and a table on the console are the output
    show_table = not (json_out or html_out or prom_dir or cloudwatch)
    _finish(report, model or ref.model_name or "unknown", json_out, html_out, prom_dir, cloudwatch, fail_on_drift,
            show_table=show_table)  # fmt: skip


def _check_with_spark(reference, profile_path, current, model, config):
    """`drift check --engine spark`: the profile (loaded, or built by Spark from the raw reference) and the report
    `check_with_spark` computes: the same report the local engine writes."""
    from mlops.drift.profile import ProfileError, ReferenceProfile
    from mlops.drift.spark import check_with_spark, session

    if profile_path:
        ref = ReferenceProfile.load(profile_path)
    if model and profile_path and ref.model_name and ref.model_name != model:
        raise ProfileError(f"the profile belongs to model {ref.model_name!r}, not {model!r}")
    spark = session()
    if not profile_path:
        from mlops.drift.spark_profile import profile_with_spark

        ref = profile_with_spark(reference, spark=spark)
    return ref, check_with_spark(ref, current, config, spark=spark)


@drift.command()
@click.option("--model", required=True, help="Registered model name (capture prefix and registry entry).")
@click.option("--window", help="Time window ending now, like 30m, 1h, 7d.")
@click.option("--rows", type=click.IntRange(1), help="Instead of a time window: the last N captured rows.")
@click.option("--profile", "profile_path", type=path_type, help="Profile file (default: from the model's run).")
@click.option("--no-event", is_flag=True, help="Do not write the drift event even on drift.")
@click.option("--engine", type=click.Choice(["local", "spark", "emr-serverless", "auto"]), default="auto",
              show_default=True, help="Where the window is counted: this process, Spark here, EMR Serverless, or "
              "auto (EMR Serverless from MLOPS_DRIFT_EMR_MIN_ROWS rows when the env has an application).")  # fmt: skip
@check_options
def run(model, window, rows, profile_path, no_event, engine, alpha, drift_share, numeric_method, categorical_method,
        importance, estimated_drop, json_out, html_out, prom_dir, cloudwatch, fail_on_drift) -> None:  # fmt: skip
    """The scheduled job: check the capture window, publish metrics, report and (on drift) the event."""
    from mlops.drift.data import DataError, parse_window
    from mlops.drift.emr import EmrJobError
    from mlops.drift.job import run_job
    from mlops.drift.profile import ProfileError

    if (window is None) == (rows is None):
        raise click.UsageError("give exactly one of --window and --rows")
    try:
        span = parse_window(window) if window else None
    except DataError as exc:
        raise click.BadParameter(str(exc), param_hint="--window") from None
    config = _config(alpha, drift_share, numeric_method, categorical_method, importance, estimated_drop)
    try:
        result = run_job(get_settings(), model, config, span=span, rows=rows, profile_path=profile_path,
                         write_event=not no_event, window_label=window, engine=engine)  # fmt: skip
    except (DataError, ProfileError, EmrJobError) as exc:
        _fail(exc)
    if result.engine != "local":
        click.echo(f"checked with {result.engine}")
    if result.event_uri:
        click.echo(f"drift event {result.event_uri}")
    click.echo(f"report {result.report_uri}")
    _finish(result.report, model, json_out, html_out, prom_dir, cloudwatch is not False, fail_on_drift)


@drift.command()
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Directory of .prom files written by --prom-dir.")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=9109, show_default=True)
def exporter(directory, host, port) -> None:
    """Serve the drift metrics files on http://HOST:PORT/metrics for Prometheus to scrape."""
    from mlops.drift.publish import exporter_server

    try:
        server = exporter_server(directory, host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"serving {directory}/*.prom on http://{host}:{port}/metrics")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
