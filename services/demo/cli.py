"""`mlops demo`: the whole model lifecycle on the local stack, with a summary at the end."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from services.common.settings import get_settings
from services.common.stack import LocalStack, StackError
from services.demo.runner import Demo, DemoFailed


@click.command()
@click.option("--down/--keep", "stop_after", default=False, help="Stop the local stack at the end (default: keep).")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated traffic.")
@click.option("--requests", "requests_per_phase", default=400, show_default=True, type=click.IntRange(min=100),
              help="Requests per traffic phase (realistic, shifted).")  # fmt: skip
@click.option("--prometheus", is_flag=True, help="Also start a real Prometheus scraping the server and query it.")
@click.option("--summary-json", type=click.Path(dir_okay=False, path_type=Path), help="Also write the summary as JSON.")
def demo(stop_after: bool, seed: int, requests_per_phase: int, prometheus: bool, summary_json: Path | None) -> None:
    """Scaffold a model, version its data, train, serve, detect drift, retrain, hot-reload: on the local stack."""
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


def _summary(run: Demo, facts: dict, total: float) -> None:
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


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"
