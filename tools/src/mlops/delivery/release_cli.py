"""`mlops release show|propose|deploy|diff`: what runs in each env is a manifest in Git (deploy/<model>/<env>.yaml)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from mlops.core.cli import friendly
from mlops.core.contracts import ENVIRONMENTS
from mlops.core.paths import DEPLOY_RECORDS_DIR
from mlops.core.settings import get_settings

env_option = click.option("--env", "env", required=True, type=click.Choice(ENVIRONMENTS), help="Environment.")
model_option = click.option("--model", "model", help="Registered model (default: MLOPS_MODEL_NAME).")
root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=".",
    show_default=True,
    help="Checkout holding deploy/ (Jenkins: the main checkout).",
)


@click.group()
def release() -> None:
    """GitOps releases: show, propose (a branch with the manifest), deploy (what main says), diff (Git vs live)."""


@release.command()
@env_option
@model_option
@root_option
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@friendly
def show(env: str, model: str | None, root: Path, as_json: bool) -> None:
    """Print the env's release manifest (schema-checked)."""
    from mlops.release.manifest import load_release

    found = load_release(root, model or get_settings().model_name, env)
    click.echo(json.dumps(found.model_dump(mode="json"), indent=2) if as_json else found.to_yaml(), nl=not as_json)


@release.command()
@env_option
@model_option
@click.option(
    "--version",
    "version",
    required=True,
    help="Model version to release (must have passed the gate), or @ALIAS for the version behind it now "
    "(@champion: the last that passed; @dev, @staging: what that env runs).",
)
@click.option("--image-digest", help="Serving image digest (sha256:...); default: the one on main for this env.")
@click.option("--image-repository", help="ECR repository of that image (default: MLOPS_ECR_REPOSITORY).")
@click.option("--repo", "repo_url", help="Release repo (path or URL; default: the URL of --remote here).")
@click.option("--remote", default="origin", show_default=True, help="Remote of the current checkout (default repo).")
@click.option(
    "--git-host",
    type=click.Choice(["plain", "github"]),
    default="plain",
    show_default=True,
    help="plain: push and print the PR hint; github: open the PR (MLOPS_GITHUB_TOKEN, MLOPS_GITHUB_API_URL).",
)
@friendly
def propose(env, model, version, image_digest, image_repository, repo_url, remote, git_host) -> None:
    """Propose a version: a release branch.

    Branch release/<model>/<env>/v<V> off main with the manifest, commit the lineage, push; dev merges itself."""
    from pydantic import ValidationError

    from mlops.release.actions import propose_version, resolve_version
    from mlops.release.gitops import origin_url
    from mlops.release.hosts import GIT_HOSTS
    from mlops.release.manifest import Image

    settings = get_settings()
    alias = re.fullmatch(r"@[A-Za-z][A-Za-z0-9_-]*", version)
    if not alias and (not version.isdigit() or version.startswith("0")):
        raise click.BadParameter(f"{version!r} is not a model version number or @alias", param_hint="--version")
    image = None
    if image_digest:
        try:
            image = Image(repository=image_repository or settings.ecr_repository, digest=image_digest)
        except ValidationError:
            raise click.BadParameter(f"{image_digest!r} is not sha256:<64 hex>", param_hint="--image-digest") from None
    url = repo_url or origin_url(remote, Path.cwd())
    host = GIT_HOSTS[git_host]()  # before any work: a missing token is a usage problem, found first
    name = model or settings.model_name
    number = resolve_version(settings, name, version)
    if alias:
        click.echo(f"{name}{version} is version {number}")
    proposal = propose_version(settings, name, env, number, url, image, host)
    click.echo(proposal.note)
    if proposal.commit:
        click.echo(f"commit {proposal.commit} on {proposal.branch}")


@release.command("deploy")
@env_option
@model_option
@root_option
@click.option("--rollout", is_flag=True, help="Also roll the image and version out (canary with rollback).")
@click.option(
    "--targets",
    "targets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="--rollout: JSON deploy targets (default: the env's Terraform output).",
)
@click.option("--instance-refresh/--no-instance-refresh", default=True, help="--rollout on EC2: roll instances.")
@click.option(
    "--record-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="--rollout: local copy of the deploy record (default: reports/deploys, archived by Jenkins).",
)
@click.option("--force", is_flag=True, help="Deploy even when the env's live release already is this manifest.")
@friendly
def deploy_(env, model, root, rollout, targets_file, instance_refresh, record_dir, force) -> None:
    """Apply the env's manifest on disk.

    Re-check it (schema, version, lineage, passed gate), roll it out with --rollout, publish it as the live release
    and move @<env>. Nothing to do (exit 0) when the live release already is this manifest."""
    from mlops.delivery.release import deploy_release

    settings = get_settings()
    deploy_release(
        settings, root, model or settings.model_name, env, rollout=rollout, targets_file=targets_file,
        instance_refresh=instance_refresh, record_dir=record_dir or DEPLOY_RECORDS_DIR, force=force, say=click.echo,
    )  # fmt: skip


@release.command()
@env_option
@click.option("--model", "model", help="One model (default: every deploy/<model>/<env>.yaml).")
@root_option
@click.option("--server-url", help="Also ask a running server which version it serves.")
@click.option(
    "--targets",
    "targets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also read the live ASG's launch template (JSON deploy targets, as for deploy --rollout).",
)
@friendly
def diff(env, model, root, server_url, targets_file) -> None:
    """Compare Git with what runs.

    The manifest against the live release, the @<env> alias and, with --server-url, a server. Exit 1 on a
    difference."""
    from mlops.delivery.release import diff_release
    from mlops.delivery.targets import load_targets

    models = [model] if model else sorted(p.parent.name for p in (root / "deploy").glob(f"*/{env}.yaml"))
    if not models:
        raise click.ClickException(f"no release manifests for {env} under {root / 'deploy'}")
    if (server_url or targets_file) and len(models) > 1:
        raise click.UsageError("--server-url and --targets need --model: they serve one model")
    targets = load_targets(env, targets_file) if targets_file else None
    rows = diff_release(get_settings(), root, models, env, server_url, targets)
    width = max(len(r.what) for r in rows)
    click.echo(f"{'':2}{'what':<{width}}  {'in Git':<10}  actual")
    for row in rows:
        click.echo(f"{'ok' if row.ok else 'XX'}  {row.what:<{width}}  {row.expected:<10}  {row.actual}")
    differing = [r.what for r in rows if not r.ok]
    if differing:
        raise click.ClickException(f"{len(differing)} differ from Git: " + "; ".join(differing))
    click.echo(f"{env}: everything matches Git")
