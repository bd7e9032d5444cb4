"""`mlops pipeline ...` (the stages dvc.yaml runs, register, run, init-example) and `mlops reproduce`.

Exit codes of `register` and `run`: 0 registered and the gate passed (promoted with --promote), 1 an error, 2 bad
usage, 3 registered but the gate REJECTED it (the champion is unchanged): Make and Jenkins stop on it, and a
caller can tell a rejection (a result) from a failure (a fault).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlops.core.cli import friendly
from mlops.core.settings import get_settings

project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Model project directory (a Git + DVC repository).",
)
outcome_option = click.option(
    "--outcome",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the outcome as JSON here (version, gate decision, reasons, numbers): for CI.",
)
params_option = click.option(
    "--params", "params_file", default="params.yaml", show_default=True, help="Params file, relative to the project."
)


def _project(project_dir: Path, params_file: str):
    from mlops.training.project import Project

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
    from mlops.training import stages

    counts = stages.prepare(_project(project_dir, params_file))
    click.echo(f"prepared {counts['train_rows']} training and {counts['test_rows']} held-out rows")


@pipeline.command()
@project_option
@params_option
@friendly
def train(project_dir: Path, params_file: str) -> None:
    """Fit the model with fixed seeds and save it as an MLflow model in model/."""
    from mlops.training import stages

    stages.train(_project(project_dir, params_file))
    click.echo(f"model saved to {project_dir / stages.MODEL_DIR}")


@pipeline.command()
@project_option
@params_option
@friendly
def evaluate(project_dir: Path, params_file: str) -> None:
    """Score the model on the held-out rows, overall and per slice, into metrics.json."""
    from mlops.training import stages

    result = stages.evaluate(_project(project_dir, params_file))
    click.echo(json.dumps({k: v for k, v in result.items() if k != "slices"}, sort_keys=True))


GATE_REJECTED = 3  # exit code: registered, but the gate rejected the version (see the module docstring)


def _report(result) -> None:
    verdict = "PASSED" if result.decision.passed else "REJECTED"
    numbers = result.decision.numbers
    metric, ours, theirs = numbers.get("primary_metric"), numbers.get("challenger"), numbers.get("champion")
    if theirs is not None:
        against = f" vs champion v{result.champion_version} {theirs:.4f}"
    else:
        against = (
            f" (champion v{result.champion_version}: not compared)" if result.champion_version else " (no champion yet)"
        )
    measured = f": {metric} {ours:.4f}{against}" if isinstance(ours, (int, float)) else ""
    click.echo(f"registered {result.name} version {result.version}; gate {verdict}{measured}")
    for reason in result.decision.reasons:
        click.echo(f"  - {reason}")


def _register_and_maybe_promote(
    project, model_name: str | None, promote: bool, reason: str | None, outcome: Path | None = None, steps=None
):
    from mlops.registry.cli import echo_move
    from mlops.registry.promotion import promote as do_promote
    from mlops.training.progress import Steps
    from mlops.training.register import register

    settings = get_settings()
    with (steps or Steps.silent()).step("registering: logging the run, gating it against the champion"):
        result = register(settings, project, model_name)
    _report(result)
    promoted = False
    if promote and result.decision.passed:
        why = reason or f"gate passed: {json.dumps(result.decision.numbers, sort_keys=True)}"
        echo_move(result.name, do_promote(settings, result.name, result.version, why, result.champion_version))
        promoted = True
    if outcome is not None:  # for CI: what happened, without parsing the console
        outcome.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "model": result.name,
            "version": result.version,
            "run_id": result.run_id,
            "decision": "passed" if result.decision.passed else "rejected",
            "reasons": result.decision.reasons,
            "numbers": result.decision.numbers,
            "champion_version": result.champion_version,
            "promoted": promoted,
        }
        outcome.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    if not result.decision.passed:
        raise SystemExit(GATE_REJECTED)
    return result


@pipeline.command()
@project_option
@params_option
@click.option("--model", "model_name", help="Registered model name (default: model_name in params).")
@click.option("--promote/--no-promote", default=False, help="Promote to champion when the gate passes.")
@click.option("--reason", help="Why, for the audit record (default: the gate's numbers).")
@outcome_option
@friendly
def register(
    project_dir: Path, params_file: str, model_name: str | None, promote: bool, reason: str | None, outcome: Path | None
) -> None:
    """After `dvc repro`: log the run (lineage tags, drift profile), gate it, register a model version.

    Exit 3 when the gate rejects it (registered, champion unchanged)."""
    from mlops.core.clients import require_tracking_server

    require_tracking_server()  # before anything: never a registry of its own in a local file
    _register_and_maybe_promote(_project(project_dir, params_file), model_name, promote, reason, outcome)


@pipeline.command()
@project_option
@params_option
@click.option("--model", "model_name", help="Registered model name (default: model_name in params).")
@click.option("--promote/--no-promote", default=False, help="Promote to champion when the gate passes.")
@click.option("--reason", help="Why, for the audit record.")
@outcome_option
@friendly
def run(
    project_dir: Path, params_file: str, model_name: str | None, promote: bool, reason: str | None, outcome: Path | None
) -> None:
    """dvc pull, dvc repro, then register (and optionally promote) in this project checkout.

    Exit 3 when the gate rejects the new version (registered, champion unchanged)."""
    from mlops.core.clients import require_tracking_server
    from mlops.training.progress import Steps
    from mlops.training.workspace import pull_inputs, repro

    require_tracking_server()  # at once, not after minutes of pulling and training
    project = _project(project_dir, params_file)
    steps = Steps()  # one line per step on stderr; DVC's own output goes to the log file (or --verbose)
    pull_inputs(project, steps)
    repro(project, steps=steps)
    _register_and_maybe_promote(project, model_name, promote, reason, outcome, steps)


@pipeline.command("sagemaker-entry")
@params_option
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default="/opt/ml",
    show_default=True,
    help="SageMaker's fixed directory; another only for a test playing the container.",
)
@friendly
def sagemaker_entry(params_file: str, root: Path) -> None:
    """Inside a SageMaker training job: the project's stages (`dvc repro`) on the job's channels, outputs to
    ROOT/model; on an error ROOT/output/failure says why (SageMaker's FailureReason) and the exit is non-zero."""
    from mlops.training import sagemaker_entry as entry
    from mlops.training.progress import Steps

    try:
        written = entry.run(root, params_file, Steps())
    except Exception as exc:  # whatever it was, SageMaker shows this line as the job's FailureReason
        entry.write_failure(root, str(exc) or type(exc).__name__)
        raise
    click.echo(f"outputs in {root / 'model'}: {', '.join(written)}")


@pipeline.command("init-example")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--remote", required=True, help="DVC remote URL, e.g. s3://mlops-data/dvc/example.")
@click.option("--model", "model_name", default="example-model", show_default=True, help="Registered model name.")
@friendly
def init_example(directory: Path, remote: str, model_name: str) -> None:
    """Stamp the example model project (Git + DVC, data v1 pushed to the remote) into DIRECTORY."""
    from mlops.training.example import init_project

    if directory.exists() and any(directory.iterdir()):
        raise click.BadParameter(f"{directory} exists and is not empty", param_hint="DIRECTORY")
    if not remote.startswith(("s3://", "/")):
        raise click.BadParameter("expected an s3:// URL or an absolute path", param_hint="--remote")
    project = init_project(directory, remote, model_name)
    click.echo(f"example project in {project.root}, data v1 {project.datasets()} pushed to {remote}")


@click.command()
@click.argument("uri")
@click.option("--project-url", help="Clone from here instead of the project URL on the model's tags.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=1e-9, show_default=True, help="Metric tolerance.")
@friendly
def reproduce(uri: str, project_url: str | None, tolerance: float) -> None:
    """Check out the model's commit and data version via DVC, retrain, and say whether the metrics match."""
    from mlops.core.clients import Registry
    from mlops.training.progress import Steps
    from mlops.training.reproduce import reproduce as do_reproduce

    settings = get_settings()
    registry = Registry(settings=settings)
    result = do_reproduce(registry, uri, settings.state_dir.resolve(), project_url, tolerance, Steps())
    for row in result["metrics"]:
        mark = "ok" if row["match"] else "DIFFERS"
        click.echo(f"  {row['metric']:32} registered {row['registered']:.6f} reproduced {row['reproduced']} {mark}")
    click.echo("metrics match" if result["match"] else "metrics DO NOT match")
    if not result["match"]:
        raise SystemExit(1)
