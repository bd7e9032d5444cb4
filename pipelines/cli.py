"""`mlops pipeline ...`, `mlops promote`, `mlops rollback`, `mlops lineage`, `mlops reproduce`."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from pipelines.errors import PipelineError
from services.common.settings import get_settings

project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Model project directory (a Git + DVC repository).",
)
params_option = click.option(
    "--params", "params_file", default="params.yaml", show_default=True, help="Params file, relative to the project."
)


def friendly(func):
    """A PipelineError becomes `Error: <message>` and exit code 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _project(project_dir: Path, params_file: str):
    from pipelines.project import Project

    return Project(project_dir, params_file)


@click.group()
def pipeline() -> None:
    """The model project stages (run by `dvc repro`) and the steps around them."""


@pipeline.command()
@project_option
@params_option
@friendly
def prepare(project_dir: Path, params_file: str) -> None:
    """Verify the data version (md5), validate columns, split train/held-out test."""
    from pipelines import stages

    counts = stages.prepare(_project(project_dir, params_file))
    click.echo(f"prepared {counts['train_rows']} training and {counts['test_rows']} held-out rows")


@pipeline.command()
@project_option
@params_option
@friendly
def train(project_dir: Path, params_file: str) -> None:
    """Fit the model with fixed seeds and save it as an MLflow model in model/."""
    from pipelines import stages

    stages.train(_project(project_dir, params_file))
    click.echo(f"model saved to {project_dir / stages.MODEL_DIR}")


@pipeline.command()
@project_option
@params_option
@friendly
def evaluate(project_dir: Path, params_file: str) -> None:
    """Score the model on the held-out rows, overall and per slice, into metrics.json."""
    from pipelines import stages

    result = stages.evaluate(_project(project_dir, params_file))
    click.echo(json.dumps({k: v for k, v in result.items() if k != "slices"}, sort_keys=True))


def _report(result) -> None:
    verdict = "PASSED" if result.decision.passed else "REJECTED"
    click.echo(f"registered {result.name} version {result.version} (run {result.run_id}); gate {verdict}")
    for reason in result.decision.reasons:
        click.echo(f"  - {reason}")


def _register_and_maybe_promote(project, model_name: str | None, promote: bool, reason: str | None):
    from pipelines.promotion import promote as do_promote
    from pipelines.register import register

    result = register(project, model_name)
    _report(result)
    if promote and result.decision.passed:
        why = reason or f"gate passed: {json.dumps(result.decision.numbers, sort_keys=True)}"
        record = do_promote(get_settings(), result.name, result.version, why, result.champion_version)
        click.echo(f"champion: version {record['from_version']} -> {record['to_version']} ({record['audit_uri']})")
    return result


@pipeline.command()
@project_option
@params_option
@click.option("--model", "model_name", help="Registered model name (default: model_name in params).")
@click.option("--promote/--no-promote", default=False, help="Promote to champion when the gate passes.")
@click.option("--reason", help="Why, for the audit record (default: the gate's numbers).")
@friendly
def register(project_dir: Path, params_file: str, model_name: str | None, promote: bool, reason: str | None) -> None:
    """After `dvc repro`: log the run (lineage tags, drift profile), gate it, register a model version."""
    _register_and_maybe_promote(_project(project_dir, params_file), model_name, promote, reason)


@pipeline.command()
@project_option
@params_option
@click.option("--model", "model_name", help="Registered model name (default: model_name in params).")
@click.option("--promote/--no-promote", default=False, help="Promote to champion when the gate passes.")
@click.option("--reason", help="Why, for the audit record.")
@friendly
def run(project_dir: Path, params_file: str, model_name: str | None, promote: bool, reason: str | None) -> None:
    """dvc pull, dvc repro, then register (and optionally promote) in this project checkout."""
    from pipelines.workspace import pull_inputs, repro

    project = _project(project_dir, params_file)
    pull_inputs(project)
    repro(project)
    _register_and_maybe_promote(project, model_name, promote, reason)


@pipeline.command("init-example")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--remote", required=True, help="DVC remote URL, e.g. s3://mlops-data/dvc/example.")
@click.option("--model", "model_name", default="example-model", show_default=True, help="Registered model name.")
@friendly
def init_example(directory: Path, remote: str, model_name: str) -> None:
    """Stamp the example model project (Git + DVC, data v1 pushed to the remote) into DIRECTORY."""
    from pipelines.example import init_project

    if directory.exists() and any(directory.iterdir()):
        raise click.BadParameter(f"{directory} exists and is not empty", param_hint="DIRECTORY")
    if not remote.startswith(("s3://", "/")):
        raise click.BadParameter("expected an s3:// URL or an absolute path", param_hint="--remote")
    project = init_project(directory, remote, model_name)
    click.echo(f"example project in {project.root}, data v1 {project.datasets()} pushed to {remote}")


@click.command()
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why, for the audit record.")
@friendly
def promote(name: str, version: str, reason: str) -> None:
    """Make VERSION of model NAME the champion; the old champion becomes `previous`."""
    from pipelines.promotion import promote as do_promote

    if not version.isdigit():
        raise click.BadParameter(f"{version!r} is not a version number", param_hint="VERSION")
    record = do_promote(get_settings(), name, version, reason)
    click.echo(f"{name}: champion {record['from_version']} -> {record['to_version']}; audit {record['audit_uri']}")


@click.command()
@click.argument("name")
@click.option("--reason", required=True, help="Why, for the audit record.")
@friendly
def rollback(name: str, reason: str) -> None:
    """Make the `previous` version of NAME the champion again."""
    from pipelines.promotion import rollback as do_rollback

    record = do_rollback(get_settings(), name, reason)
    click.echo(f"{name}: champion {record['from_version']} -> {record['to_version']}; audit {record['audit_uri']}")


@click.command()
@click.argument("uri")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@friendly
def lineage(uri: str, as_json: bool) -> None:
    """Data versions, commit, params, metrics and gate decision of a model (models:/NAME@ALIAS or models:/NAME/N)."""
    from pipelines.lineage import lineage as get_lineage

    info = get_lineage(uri)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    click.echo(f"{info['model']} version {info['version']} {info['aliases']} run {info['run_id']}")
    for path, md5 in info["data"].items():
        click.echo(f"  data     {path} md5 {md5} (remote {info['dvc_remote']})")
    click.echo(f"  code     commit {info['git_commit']} dirty={info['git_dirty']} in {info['project']}")
    click.echo(f"  pipeline dvc.lock md5 {info['dvc_lock_md5']}")
    click.echo("  params   " + ", ".join(f"{k}={v}" for k, v in info["params"].items()))
    click.echo("  metrics  " + ", ".join(f"{k}={v:.4f}" for k, v in info["metrics"].items() if "." not in k))
    gate = info["gate"]
    click.echo(f"  gate     {gate['decision']}" + "".join(f"\n           - {r}" for r in gate["reasons"]))


@click.command()
@click.argument("uri")
@click.option("--project-url", help="Clone from here instead of the project URL on the model's tags.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=1e-9, show_default=True, help="Metric tolerance.")
@friendly
def reproduce(uri: str, project_url: str | None, tolerance: float) -> None:
    """Check out the model's commit and data version via DVC, retrain, and say whether the metrics match."""
    from pipelines.lineage import reproduce as do_reproduce

    result = do_reproduce(uri, get_settings().state_dir.resolve(), project_url, tolerance)
    for row in result["metrics"]:
        mark = "ok" if row["match"] else "DIFFERS"
        click.echo(f"  {row['metric']:32} registered {row['registered']:.6f} reproduced {row['reproduced']} {mark}")
    click.echo("metrics match" if result["match"] else "metrics DO NOT match")
    if not result["match"]:
        raise SystemExit(1)
