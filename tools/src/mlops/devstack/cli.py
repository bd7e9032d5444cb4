"""`mlops stack up|down|status` (the local stack) and `mlops demo` (the whole model lifecycle on it)."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import click

from mlops.core.settings import get_settings
from mlops.devstack.stack import LocalStack, StackError


@click.group()
def stack() -> None:
    """Start, stop and inspect the local stack: a moto server (AWS) and an MLflow server, on loopback."""


@stack.command()
def up() -> None:
    """Start the stack (harmless when it already runs) and write the endpoints to the env file.

    The stack's state (PIDs, logs, endpoints) lives in the user's state dir (MLOPS_HOME, else
    ~/.local/state/mlops), so `mlops` finds the stack from any directory."""
    settings = get_settings()
    started = time.perf_counter()

    def say(step: str) -> None:
        click.echo(f"  {time.perf_counter() - started:5.1f}s  {step} ...")

    try:
        endpoints, messages = LocalStack(settings).up(say=say)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    for message in messages:
        click.echo(message)
    click.echo(f"endpoints written to {settings.stack_env_file} ({time.perf_counter() - started:.1f}s)")
    click.echo(f"MLflow UI: {endpoints['MLFLOW_TRACKING_URI']}")


@stack.command("env")
def env_() -> None:
    """Print the running stack's endpoints as shell exports, for tools that are not `mlops` (dvc, mlflow, aws):
    eval "$(mlops stack env)". Exit 1 when the stack is not up."""
    from mlops.core.settings import read_env_file

    settings = get_settings()
    if not settings.stack_env_file.is_file():
        raise click.ClickException(f"the local stack is not up (no {settings.stack_env_file}): run `mlops stack up`")
    for key, value in sorted(read_env_file(settings.stack_env_file).items()):
        click.echo(f"export {key}={shlex.quote(value)}")


@stack.command()
def down() -> None:
    """Stop the processes this stack started, and nothing else."""
    try:
        messages = LocalStack(get_settings()).down()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    for message in messages:
        click.echo(message)


@stack.command()
def status() -> None:
    """Say what runs where and whether it answers. Exits 1 when a started service does not answer."""
    try:
        statuses = LocalStack(get_settings()).status()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    unhealthy = False
    for s in statuses:
        if s.pid is None:
            click.echo(f"{s.name:7} stopped")
            continue
        state = "answers" if s.answers else "NOT ANSWERING"
        unhealthy |= not s.answers
        line = f"{s.name:7} pid {s.pid:<7} {s.url}  {'running' if s.running else 'not running'}, {state}"
        click.echo(line + (f"  ({s.note})" if s.note else ""))
    if unhealthy:
        sys.exit(1)


@click.command()
@click.option("--down/--keep", "stop_after", default=False, help="Stop the local stack at the end (default: keep).")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated traffic.")
@click.option("--requests", "requests_per_phase", default=400, show_default=True, type=click.IntRange(min=100),
              help="Requests per traffic phase (realistic, shifted).")  # fmt: skip
@click.option("--prometheus", is_flag=True, help="Also start a real Prometheus scraping the server and query it.")
@click.option("--summary-json", type=click.Path(dir_okay=False, path_type=Path), help="Also write the summary as JSON.")
def demo(stop_after: bool, seed: int, requests_per_phase: int, prometheus: bool, summary_json: Path | None) -> None:
    """Scaffold a model, version its data, train, serve, detect drift, retrain, hot-reload: on the local stack."""
    from mlops.devstack.demo.runner import Demo, DemoFailed

    settings = get_settings()
    run = Demo(settings, seed=seed, requests_per_phase=requests_per_phase)
    started = time.perf_counter()
    try:
        facts = run.run(with_prometheus=prometheus)
    except (DemoFailed, StackError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if stop_after:
            for message in LocalStack(settings).down():
                click.echo(message)
    total = time.perf_counter() - started
    _summary(run, facts, total)
    if summary_json:
        stats = run.stats
        traffic = {"requests": stats.requests, "errors": stats.errors, "p99_ms": stats.p99_ms()}
        document = {
            "model": run.model,
            **facts,
            "traffic": {**traffic, "versions": stats.versions},
            "step_seconds": run.timings,
            "total_seconds": total,
        }
        summary_json.write_text(json.dumps(document, indent=2, default=str))
    if not stop_after:
        click.echo(
            "\nThe local stack is still up (MLflow UI above). Stop it with `mlops stack down` or `make stack-down`."
        )


def _summary(run: Any, facts: dict[str, Any], total: float) -> None:
    echo = click.echo
    echo("\n=== summary ===")
    echo(f"model {run.model}, project {run.project}")
    for key in ("v1", "v2"):
        v = facts[key]
        numbers = v["gate_numbers"]
        echo(
            f"  version {v['version']}: data {RAW_NAME} md5 {v['data_md5']}, gate {v['gate']}"
            f" ({numbers.get('primary_metric')} {_num(numbers.get('challenger'))}"
            f" vs champion {_num(numbers.get('champion'))}), trigger {v['trigger']}"
        )
    before, after = facts["drift_before"], facts["drift_after"]
    echo(f"drift share before {before['drift_share']:.2f} (drift: {before['dataset_drift']}),"
         f" after {after['drift_share']:.2f} (drift: {after['dataset_drift']})")  # fmt: skip
    echo(f"alarm {facts['alarm']['name']}: {facts['alarm']['state']}; drift event {facts['event']}")
    s = run.stats
    echo(f"requests {s.requests}, errors {s.errors}, p99 {s.p99_ms():.1f} ms;"
         f" answered by version {dict(sorted(s.versions.items()))}")  # fmt: skip
    echo(f"hot reload under load: {facts['reload_requests']} requests per version while it happened, 0 failed")
    echo(f"reports: {after['json']}\n         {after['html']}\n         {before['html']}")
    if "prometheus" in facts:
        echo(f"prometheus: {facts['prometheus']['query']} = {facts['prometheus']['result']}")
    echo(f"MLflow UI: {facts['mlflow_ui']}   logs: CloudWatch Logs group /mlops/demo/{run.model}, {run.workdir}/logs")
    echo("step times: " + ", ".join(f"{i + 1}) {t:.1f}s" for i, t in enumerate(run.timings.values())))
    echo(f"total {total:.1f}s")


RAW_NAME = "data/raw.csv"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
