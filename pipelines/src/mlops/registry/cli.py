"""`mlops promote`, `mlops rollback`, `mlops lineage`: audited alias moves, and what made a version."""

from __future__ import annotations

import json

import click

from mlops.core.cli import friendly
from mlops.core.settings import get_settings


def echo_move(name: str, record: dict[str, str]) -> None:
    click.echo(
        f"{name}: @{record['alias']} {record['from_version']} -> {record['to_version']}; audit {record['audit_uri']}"
    )


@click.command()
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why, for the audit record.")
@click.option("--force", is_flag=True, help="Promote even a version the gate rejected or that cannot be loaded.")
@friendly
def promote(name: str, version: str, reason: str, force: bool) -> None:
    """Make VERSION of model NAME the champion; the old champion becomes `previous`. A version the gate rejected,
    or whose model cannot be fetched, is refused unless --force (the audit record then lists what was overridden)."""
    from mlops.registry.promotion import promote as do_promote

    if not version.isdigit():
        raise click.BadParameter(f"{version!r} is not a version number", param_hint="VERSION")
    record = do_promote(get_settings(), name, version, reason, force=force)
    echo_move(name, record)
    for objection in record.get("forced", {}).get("objections", []):
        click.echo(f"  forced past: {objection}", err=True)


@click.command()
@click.argument("name")
@click.option("--reason", required=True, help="Why, for the audit record.")
@friendly
def rollback(name: str, reason: str) -> None:
    """Make the `previous` version of NAME the champion again."""
    from mlops.registry.promotion import rollback as do_rollback

    echo_move(name, do_rollback(get_settings(), name, reason))


@click.command()
@click.argument("uri")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@friendly
def lineage(uri: str, as_json: bool) -> None:
    """Data versions, commit, params, metrics and gate decision of a model (models:/NAME@ALIAS or models:/NAME/N)."""
    from mlops.core.clients import Registry
    from mlops.registry.lineage import lineage as get_lineage

    settings = get_settings()
    info = get_lineage(Registry(settings=settings), uri)
    info["pending_promotion"] = _pending(settings, info["model"])
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    pending = info["pending_promotion"]
    if isinstance(pending, dict):
        click.echo(
            f"WARNING: an interrupted {pending['action']} of {info['model']} is pending (@{pending['alias']} "
            f"{pending['from_version']} -> {pending['to_version']} by {pending['actor']} at {pending['at']}); "
            f"the next `mlops promote` or `mlops rollback` of {info['model']} repairs it",
            err=True,
        )
    elif pending is not None:
        click.echo(f"WARNING: {pending}", err=True)
    click.echo(f"{info['model']} version {info['version']} {info['aliases']} run {info['run_id']}")
    for path, md5 in info["data"].items():
        click.echo(f"  data     {path} md5 {md5} (remote {info['dvc_remote']})")
    click.echo(f"  code     commit {info['git_commit']} dirty={info['git_dirty']} in {info['project']}")
    click.echo(f"  pipeline dvc.lock md5 {info['dvc_lock_md5']}")
    click.echo("  params   " + ", ".join(f"{k}={v}" for k, v in info["params"].items()))
    click.echo("  metrics  " + ", ".join(f"{k}={v:.4f}" for k, v in info["metrics"].items() if "." not in k))
    gate = info["gate"]
    click.echo(f"  gate     {gate['decision']}" + "".join(f"\n           - {r}" for r in gate["reasons"]))


def _pending(settings, name: str) -> dict | str | None:
    """The intent of an interrupted promotion (see mlops.registry.promotion), or why it could not be checked."""
    from mlops.registry.promotion import pending_promotion

    try:
        return pending_promotion(settings, name)
    except Exception as exc:  # noqa: BLE001 - lineage still answers; the check itself is reported as not done
        return f"cannot check for an interrupted promotion of {name}: {str(exc)[:200]}"
