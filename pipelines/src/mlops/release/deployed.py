"""The deployed evidence: what `release deploy` adds to the pack in Git (who approved the release and when, who
deployed which commit, the canary's deploy record) and stores beside the live release,
`s3://<artifact bucket>/releases/<model>/<env>.evidence.json`. The Git copy stays as proposed; its sha256 is in the
S3 object's metadata, so the deployed copy names the pack it extends."""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from pathlib import Path

from mlops.core.clients import aws_client
from mlops.core.contracts import live_evidence_key
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.release.evidence import Deployment, Evidence, parse_evidence, sha256_hex
from mlops.release.manifest import manifest_path

GIT_EVIDENCE_METADATA = "git-evidence-sha256"


@dataclass(frozen=True)
class Approval:
    by: str
    at: str
    source: str


def jenkins_approval(by: str, at: str | None) -> Approval:
    """The approver Jenkins' input step returned (its submitterParameter), passed to the deploy in the environment."""
    when = at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return Approval(by, when, "Jenkins approval (input step submitter, MLOPS_RELEASE_APPROVED_BY)")


def merge_approval(root: Path, model: str, env: str) -> Approval:
    """Without a Jenkins approval (dev merges itself): the commit that put the manifest on main, along the first
    parent, so a pull request's merge commit and not the proposal's own. Its author is who merged (GitHub merge
    commits; a squash or rebase merge names the pull request's author instead)."""
    import git

    path = manifest_path(root, model, env)
    try:
        repo = git.Repo(root, search_parent_directories=True)
        relative = str(path.resolve().relative_to(Path(repo.working_tree_dir or root).resolve()))
        found = next(repo.iter_commits("HEAD", paths=relative, max_count=1, first_parent=True), None)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError, ValueError):
        raise MlopsError(f"{root} is not a Git checkout with {path}: cannot tell who merged the release") from None
    if found is None:
        raise MlopsError(f"{path} is not committed: cannot tell who merged the release")
    return Approval(
        f"{found.author.name} <{found.author.email}>",
        found.committed_datetime.astimezone(dt.UTC).isoformat(timespec="seconds"),
        f"merge commit {found.hexsha} (author; committer {found.committer.name})",
    )


def deployment(
    settings: Settings,
    approval: Approval,
    commit: str,
    rolled_out: bool,
    record: tuple[str, bytes] | None = None,
) -> Deployment:
    """The deploy's section: `record` is the canary's deploy record (S3 URI, bytes) when it rolled out."""
    return Deployment(
        commit=commit,
        approved_by=approval.by,
        approved_at=approval.at,
        approval_source=approval.source,
        deployed_by=settings.actor or getpass.getuser(),
        deployed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        rolled_out=rolled_out,
        deploy_record=record[0] if record else None,
        deploy_record_sha256=sha256_hex(record[1]) if record else None,
    )


def publish(settings: Settings, evidence: Evidence, git_sha256: str) -> str:
    """Store the deployed evidence beside the live release; its S3 URI."""
    if evidence.deployment is None:
        raise MlopsError("the deployed evidence needs the deploy's section (approval, deployer)")
    key = live_evidence_key(evidence.model.name, evidence.env)
    try:
        aws_client("s3", settings).put_object(
            Bucket=settings.artifact_bucket,
            Key=key,
            Body=evidence.to_json().encode(),
            ContentType="application/json",
            Metadata={GIT_EVIDENCE_METADATA: git_sha256},
        )
    except Exception as exc:  # botocore errors: a missing bucket, no credentials, an unreachable endpoint
        raise MlopsError(f"cannot store the evidence in s3://{settings.artifact_bucket}/{key}: {exc}") from None
    return f"s3://{settings.artifact_bucket}/{key}"


def read(settings: Settings, model: str, env: str) -> Evidence | None:
    """The env's deployed evidence; None when no deploy stored one."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = live_evidence_key(model, env)
    try:
        body = aws_client("s3", settings).get_object(Bucket=settings.artifact_bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise MlopsError(f"cannot read s3://{settings.artifact_bucket}/{key}: {exc}") from None
    except BotoCoreError as exc:
        raise MlopsError(f"cannot read s3://{settings.artifact_bucket}/{key}: {exc}") from None
    return parse_evidence(body["Body"].read(), f"s3://{settings.artifact_bucket}/{key}")
