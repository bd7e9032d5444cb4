"""The evidence pack with real programs: pip-audit and cyclonedx-py (from their .venv-tools venvs) on a small pinned
requirements file, a scan that runs out of time writes nothing, KMS signing on the local stack, and the whole path:
`release propose --evidence --signing-key` commits the signed pack beside the manifest, `release deploy` verifies it
and stores it with the approval in S3, `release show --evidence --deployed` prints it, and a changed pack is refused
at deploy time with nothing published."""

from __future__ import annotations

import hashlib
import json
import shutil

import git
import pytest
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.clients import aws_client
from mlops.core.contracts import live_evidence_key, live_release_key
from mlops.core.errors import MlopsError
from mlops.core.paths import REPO_ROOT
from mlops.core.settings import get_settings
from mlops.release import scanners, signing
from mlops.release.evidence import DependencyAudit, parse_evidence
from mlops.release.manifest import EvidenceRef
from mlops.release.scan_reports import describe_sbom, read_sbom

pytestmark = pytest.mark.integration
MODEL = "evidence-model"
ACTOR = git.Actor("Release Bot", "release-bot@mlops.invalid")
TAGS = {
    "mlops.git.commit": "a" * 40,
    "mlops.dvc.lock_md5": "c" * 32,
    "mlops.dvc.remote_url": "s3://mlops-data/dvc/evidence",
    "mlops.data.data/raw.csv.md5": "d" * 32,
    "mlops.gate.decision": "passed",
    "mlops.gate.numbers": json.dumps({"primary_metric": "roc_auc", "challenger": 0.91}),
    "mlops.privacy.data_classes": json.dumps({"email": "personal"}),
}
CHECKOV_XML = """<testsuites failures="1" tests="9">
  <testsuite errors="0" failures="0" name="dockerfile scan" skipped="0" tests="3"/>
  <testsuite errors="0" failures="1" name="terraform scan" skipped="2" tests="6"/>
</testsuites>
"""


def mlops(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.output
    return result


def test_pip_audit_and_cyclonedx_on_pinned_requirements(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.7\nrequests==2.19.0\n")
    audit = scanners.audit_requirements(requirements, tmp_path / "pip-audit.json", "f" * 64, timeout=120)
    assert audit.tool == "pip-audit" and audit.tool_version == "2.10.1" and audit.dependencies == 2
    assert json.loads((tmp_path / "pip-audit.json").read_text())["dependencies"]  # the tool's own report is kept
    unaudited = {u.package: u.reason for u in audit.unaudited}
    if "requests" in unaudited:  # a PyPI mirror without /pypi/<name>/<version>/json (this machine's): not vouched for
        assert "not found on PyPI" in unaudited["requests"] and not audit.complete
    else:  # pypi.org: requests 2.19.0 leaks credentials on redirects (CVE-2018-18074), fixed in 2.20.0
        assert any(f.package == "requests" and "CVE-2018-18074" in [f.id, *f.aliases] for f in audit.findings)
    scanners.make_sbom(requirements, tmp_path / "sbom.json", timeout=120)
    sbom = describe_sbom(read_sbom(tmp_path / "sbom.json"), "dev.sbom.json", "sbom.json")
    assert (sbom.tool, sbom.tool_version, sbom.spec_version, sbom.components) == ("cyclonedx-py", "7.5.0", "1.6", 2)
    purls = {c["purl"] for c in json.loads((tmp_path / "sbom.json").read_text())["components"]}
    assert purls == {"pkg:pypi/idna@3.7", "pkg:pypi/requests@2.19.0"}


def test_a_scan_out_of_time_writes_nothing(tmp_path):
    out = tmp_path / "reports"
    with pytest.raises(MlopsError, match=r"uv export did not finish within 0s: nothing was written"):
        scanners.scan(out, timeout=0.001)
    assert list(out.iterdir()) == []


def test_kms_signs_the_digest_and_refuses_a_changed_digest_or_another_key(local_stack):
    settings = get_settings()
    kms = aws_client("kms", settings)
    signer = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    other = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]
    digest = hashlib.sha256(b"evidence").hexdigest()
    signature = signing.sign(settings, signer["KeyId"], digest)
    assert signature.key_id == signer["Arn"] and signature.algorithm == "ECDSA_SHA_256"
    ref = EvidenceRef(file="dev.evidence.json", sha256=digest, signature=signature)
    assert "verified" in signing.verify(settings, ref, signer["KeyId"], "m.yaml")
    changed = ref.model_copy(update={"sha256": hashlib.sha256(b"evidence!").hexdigest()})
    with pytest.raises(MlopsError, match="m.yaml: the evidence signature does not verify"):
        signing.verify(settings, changed, None, "m.yaml")
    with pytest.raises(MlopsError, match=f"signed by {signer['Arn']}, not by {other['KeyId']}"):
        signing.verify(settings, ref, other["KeyId"], "m.yaml")
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(MlopsError, match="is not an enabled SIGN_VERIFY key"):
        signing.sign(settings, symmetric, digest)


@pytest.fixture
def world(local_stack, tmp_path):
    """A releasable version whose run names its inputs, a bare release repo, a platform checkout with scan reports
    for its uv.lock, and a signing key."""
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment = client.create_experiment(MODEL)
    run = client.create_run(experiment).info.run_id
    client.log_param(run, "data.features", "['tenure', 'email']")
    client.set_terminated(run)
    client.create_registered_model(MODEL)
    version, later = (
        client.create_model_version(MODEL, source="s3://mlops-artifacts/none", run_id=run, tags=TAGS).version
        for _ in range(2)
    )
    bare = tmp_path / "gitops.git"
    git.Repo.init(bare, bare=True, initial_branch="main")
    seed = git.Repo.clone_from(str(bare), tmp_path / "seed")
    (tmp_path / "seed" / "deploy").mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "policy.yaml", tmp_path / "seed" / "deploy" / "policy.yaml")
    seed.index.add(["deploy/policy.yaml"])
    seed.index.commit("release policy", author=ACTOR, committer=ACTOR)
    seed.git.push("origin", "HEAD:refs/heads/main")

    platform = tmp_path / "platform"
    checkout = git.Repo.init(platform, initial_branch="main")
    (platform / "uv.lock").write_text("version = 1\n")
    checkout.index.add(["uv.lock"])
    checkout.index.commit("platform", author=ACTOR, committer=ACTOR)
    reports = platform / "reports"
    reports.mkdir()
    (reports / "checkov.xml").write_text(CHECKOV_XML)  # written after the commit: the scan of this checkout
    audit = DependencyAudit(
        tool="pip-audit", tool_version="2.10.1", vulnerability_service="pypi", requirements_sha256="1" * 64,
        lock_sha256=hashlib.sha256(b"version = 1\n").hexdigest(), scanned_at="2026-11-30T08:00:00+00:00",
        dependencies=0, findings=[], unaudited=[],
    )  # fmt: skip
    (reports / "dependency-audit.json").write_text(audit.model_dump_json())
    (reports / "sbom.cdx.json").write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6"}))
    key = aws_client("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    return {"bare": bare, "reports": reports, "key": key, "version": version, "later": later, "root": tmp_path}


def test_propose_commits_a_signed_pack_and_deploy_stores_it_with_the_approval(world):
    settings = get_settings()
    s3, bucket = aws_client("s3", settings), settings.artifact_bucket
    propose = ["release", "propose", "--model", MODEL, "--repo", str(world["bare"]), "--env", "dev"]
    missing = mlops(*propose, "--version", world["version"], "--evidence", str(world["root"] / "nowhere"))
    assert missing.exit_code == 1 and "not in a Git checkout" in missing.output
    assert [h.name for h in git.Repo(world["bare"]).heads] == ["main"]  # nothing pushed

    signed = ["--evidence", str(world["reports"]), "--signing-key", world["key"]]
    proposed = mlops(*propose, "--version", world["version"], *signed)
    assert proposed.exit_code == 0 and "dev merges itself" in proposed.output, proposed.output
    work = world["root"] / "main"
    repo = git.Repo.clone_from(str(world["bare"]), work, branch="main")
    assert {"dev.yaml", "dev.evidence.json", "dev.sbom.json"} <= {
        b.name for b in repo.head.commit.tree / "deploy" / MODEL
    }
    assert f"signed by {world['key']}" in repo.head.commit.message

    shown = mlops("release", "show", "--env", "dev", "--model", MODEL, "--root", str(work), "--evidence",
                  "--verify-signature")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "checkov: 6 passed, 1 failed, 2 skipped" in shown.output and "  email: personal" in shown.output
    assert "  tenure: internal (inferred)" in shown.output and f"signed by {world['key']}" in shown.output

    deploy = ["release", "deploy", "--env", "dev", "--model", MODEL, "--root", str(work), "--signing-key", world["key"]]
    deployed = mlops(*deploy, "--approved-by", "alice", "--approved-at", "2026-11-30T09:00:00Z")
    assert deployed.exit_code == 0, deployed.output
    assert "verified" in deployed.output and "approved by alice at 2026-11-30T09:00:00Z" in deployed.output
    stored = s3.get_object(Bucket=bucket, Key=live_evidence_key(MODEL, "dev"))
    evidence = parse_evidence(stored["Body"].read(), "s3")
    assert evidence.deployment is not None and evidence.deployment.approved_by == "alice"
    assert evidence.deployment.commit == repo.head.commit.hexsha and not evidence.deployment.rolled_out
    git_sha = hashlib.sha256((work / "deploy" / MODEL / "dev.evidence.json").read_bytes()).hexdigest()
    assert stored["Metadata"]["git-evidence-sha256"] == git_sha
    live = mlops("release", "show", "--env", "dev", "--model", MODEL, "--root", str(work), "--evidence", "--deployed")
    assert "approved: by alice at 2026-11-30T09:00:00Z (Jenkins approval" in live.output, live.output

    merged = mlops(*deploy, "--force")  # no Jenkins approval: who merged (dev merges itself: the proposer)
    assert merged.exit_code == 0 and "approved by mlops-release <mlops-release@mlops.invalid>" in merged.output

    before = s3.get_object(Bucket=bucket, Key=live_evidence_key(MODEL, "dev"))["Body"].read()
    release_before = s3.get_object(Bucket=bucket, Key=live_release_key(MODEL, "dev"))["ETag"]
    sbom = work / "deploy" / MODEL / "dev.sbom.json"
    sbom.write_text(sbom.read_text().replace("1.6", "1.5"))
    refused = mlops(*deploy, "--force", "--approved-by", "mallory")
    assert refused.exit_code == 1 and "dev.sbom.json was changed" in refused.output, refused.output
    assert s3.get_object(Bucket=bucket, Key=live_evidence_key(MODEL, "dev"))["Body"].read() == before
    assert s3.get_object(Bucket=bucket, Key=live_release_key(MODEL, "dev"))["ETag"] == release_before

    # a later proposal without a pack takes the old one away: no pack on main describes another release
    assert mlops(*propose, "--version", world["later"]).exit_code == 0
    tree = git.Repo(world["bare"]).heads["main"].commit.tree / "deploy" / MODEL
    assert {blob.name for blob in tree} == {"dev.yaml"}
