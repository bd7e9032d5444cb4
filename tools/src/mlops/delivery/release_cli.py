"""`mlops release show|scan|propose|deploy|diff`: what runs in each env is a manifest in Git
(deploy/<model>/<env>.yaml), with its evidence pack beside it (<env>.evidence.json, <env>.sbom.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from mlops.core.cli import friendly
from mlops.core.contracts import ENVIRONMENTS
from mlops.core.paths import DEPLOY_RECORDS_DIR, REPO_ROOT
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
signing_key_option = click.option(
    "--signing-key",
    metavar="KMS_KEY",
    help="Asymmetric KMS key (id, ARN or alias) that signs the evidence pack; deploy: the key it must be signed by.",
)


@click.group()
def release() -> None:
    """GitOps releases: show, scan, propose (a branch with the manifest), deploy (what main says), diff (vs live)."""


@release.command()
@env_option
@model_option
@root_option
@click.option("--json", "as_json", is_flag=True, help="Print the manifest (or the evidence) as JSON.")
@click.option("--evidence", is_flag=True, help="Print the release's evidence pack (checksums checked) instead.")
@click.option("--deployed", is_flag=True, help="--evidence: the deployed copy in S3 (with approval and record).")
@click.option("--verify-signature", is_flag=True, help="--evidence: also verify the pack's KMS signature.")
@friendly
def show(
    env: str, model: str | None, root: Path, as_json: bool, evidence: bool, deployed: bool, verify_signature: bool
) -> None:
    """Print the env's release manifest (schema-checked), or its evidence pack."""
    from mlops.release.manifest import load_release, manifest_path

    settings = get_settings()
    found = load_release(root, model or settings.model_name, env)
    if not evidence:
        if deployed or verify_signature:
            raise click.UsageError("--deployed and --verify-signature go with --evidence")
        click.echo(json.dumps(found.model_dump(mode="json"), indent=2) if as_json else found.to_yaml(), nl=not as_json)
        return
    from mlops.release import deployed as deployed_evidence
    from mlops.release import signing
    from mlops.release.evidence import load_evidence

    pack = load_evidence(root, found)  # the Git copy, checked against the manifest, whichever is printed
    notes = []
    if verify_signature and found.evidence is not None:
        notes.append(signing.verify(settings, found.evidence, None, str(manifest_path(root, found.model.name, env))))
    if deployed:
        live = deployed_evidence.read(settings, found.model.name, env)
        if live is None:
            raise click.ClickException(f"{env} has no deployed evidence of {found.model.name}: never deployed")
        if live.model_copy(update={"deployment": None}) != pack:
            raise click.ClickException(f"the deployed evidence of {found.model.name} in {env} is not this manifest's")
        pack = live
    if as_json:
        click.echo(pack.to_json(), nl=False)
        return
    assert found.evidence is not None  # load_evidence refuses a manifest without one
    for line in evidence_lines(pack, found.evidence.sha256, found.evidence.signature) + notes:
        click.echo(line)


def evidence_lines(pack, sha256: str, signature) -> list[str]:
    """The pack for a reader: one line per fact, findings and unaudited packages listed."""
    audit, checkov, sbom = pack.dependencies, pack.checkov, pack.sbom
    gate = pack.gate
    lines = [
        f"release evidence: {pack.model.name} v{pack.model.version} in {pack.env} (sha256 {sha256})",
        "signature: " + (f"{signature.key_id} ({signature.algorithm})" if signature else "none (unsigned)"),
        f"generated: {pack.generated_at} by {pack.generated_by}",
        "image: " + (f"{pack.image.repository}@{pack.image.digest}" if pack.image else "unchanged"),
        f"lineage: project commit {pack.lineage.git_commit}, dvc.lock md5 {pack.lineage.dvc_lock_md5}",
        *(f"  data: {path} md5 {md5}" for path, md5 in pack.lineage.data.items()),
        f"gate: {gate.decision}, {gate.primary_metric} {gate.challenger} vs champion {gate.champion}",
        f"checkov: {checkov.passed} passed, {checkov.failed} failed, {checkov.skipped} skipped, {checkov.errors} "
        f"errors of {checkov.tests} at commit {checkov.commit}",
        f"dependencies: {audit.tool} {audit.tool_version} ({audit.vulnerability_service}) on {audit.scanned_at}: "
        f"{audit.dependencies} pinned, {len(audit.findings)} known vulnerabilities, {len(audit.unaudited)} unaudited",
        *(f"  vulnerable: {f.package} {f.version} {f.id} (fix: {', '.join(f.fix_versions) or 'none'})"
          for f in audit.findings),
        *([f"  NOT AUDITED: {len(audit.unaudited)} packages, e.g. {audit.unaudited[0].package}: "
           f"{audit.unaudited[0].reason}"] if audit.unaudited else []),
        f"sbom: {sbom.file} ({sbom.format} {sbom.spec_version} by {sbom.tool} {sbom.tool_version}, "
        f"{sbom.components} components of {sbom.subject}; sha256 {sbom.sha256})",
        f"data classes ({pack.data_classes.source}):",
        *(f"  {column}: {c.data_class}{'' if c.declared else ' (inferred)'}"
          for column, c in pack.data_classes.columns.items()),
    ]  # fmt: skip
    d = pack.deployment
    if d is None:
        lines.append("deployment: none in the Git copy (`--deployed` reads what the deploy stored)")
    else:
        lines += [
            f"approved: by {d.approved_by} at {d.approved_at} ({d.approval_source})",
            f"deployed: commit {d.commit} by {d.deployed_by} at {d.deployed_at}, "
            + ("rolled out" if d.rolled_out else "published only"),
            f"deploy record: {d.deploy_record or 'none'}"
            + (f" (sha256 {d.deploy_record_sha256})" if d.deploy_record_sha256 else ""),
        ]
    return lines


@release.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=REPO_ROOT / "reports",
    show_default=True,
    help="Where the reports go (propose --evidence reads them from there).",
)
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True, help="Seconds per tool.")
@friendly
def scan(out: Path, timeout: float) -> None:
    """Audit and describe the serving environment.

    The serving package's pins from uv.lock: pip-audit (known vulnerabilities) and cyclonedx-py (a CycloneDX SBOM),
    each from its own venv (.venv-tools). Writes serving-requirements.txt, pip-audit.json, dependency-audit.json and
    sbom.cdx.json to --out, all or none."""
    from mlops.release.scanners import scan as run_scan

    result = run_scan(out, timeout=timeout)
    audit = result.audit
    click.echo(
        f"{audit.tool} {audit.tool_version}: {audit.dependencies} pinned dependencies, {len(audit.findings)} known "
        f"vulnerabilities, {len(audit.unaudited)} not audited; SBOM: {result.sbom_components} components"
    )
    if audit.unaudited:
        click.echo(f"not audited (the vulnerability service had no answer): {audit.unaudited[0].reason} ...")
    click.echo("wrote " + ", ".join(str(p) for p in result.written))


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
@click.option(
    "--evidence",
    "evidence_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Attach the evidence pack, from the scan reports here (make scan, make release-scan: reports/).",
)
@signing_key_option
@friendly
def propose(
    env, model, version, image_digest, image_repository, repo_url, remote, git_host, evidence_dir, signing_key
) -> None:
    """Propose a version: a release branch.

    Branch release/<model>/<env>/v<V> off main with the manifest (and, with --evidence, its evidence pack), commit
    the lineage, push; dev merges itself."""
    from pydantic import ValidationError

    from mlops.release.actions import EvidenceRequest, propose_version, resolve_version
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
    if signing_key and not evidence_dir:
        raise click.UsageError("--signing-key signs the evidence pack: it needs --evidence")
    url = repo_url or origin_url(remote, Path.cwd())
    host = GIT_HOSTS[git_host]()  # before any work: a missing token is a usage problem, found first
    name = model or settings.model_name
    number = resolve_version(settings, name, version)
    if alias:
        click.echo(f"{name}{version} is version {number}")
    evidence = EvidenceRequest(evidence_dir, signing_key) if evidence_dir else None
    proposal = propose_version(settings, name, env, number, url, image, host, evidence=evidence)
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
@click.option(
    "--approved-by", help="Who approved this deploy (Jenkins: the approval's submitter); default: who merged."
)
@click.option("--approved-at", help="When (ISO 8601); default: now, with --approved-by.")
@signing_key_option
@friendly
def deploy_(
    env, model, root, rollout, targets_file, instance_refresh, record_dir, force, approved_by, approved_at, signing_key
) -> None:
    """Apply the env's manifest on disk.

    Re-check it (schema, version, lineage, passed gate) and its evidence pack, roll it out with --rollout, store the
    evidence with the approval and the deploy record, publish the live release and move @<env>. Nothing to do
    (exit 0) when the live release already is this manifest."""
    from mlops.delivery.release import deploy_release
    from mlops.release.deployed import jenkins_approval

    if approved_at and not approved_by:
        raise click.UsageError("--approved-at goes with --approved-by")
    settings = get_settings()
    approval = jenkins_approval(approved_by, approved_at) if approved_by else None
    deploy_release(
        settings, root, model or settings.model_name, env, rollout=rollout, targets_file=targets_file,
        instance_refresh=instance_refresh, record_dir=record_dir or DEPLOY_RECORDS_DIR, force=force, say=click.echo,
        approval=approval, signing_key=signing_key,
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
