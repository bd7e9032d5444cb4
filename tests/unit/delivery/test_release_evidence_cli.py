"""`mlops release show --evidence` prints a release's evidence pack for a reader (and as JSON), a changed pack is an
error naming the file, and the deploy's side: a required signature without a pack is refused, the canary's new
deploy record is found with its S3 URI, and the evidence options are checked before any work."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.delivery.release import checked_evidence
from mlops.release.evidence import (
    CheckovSummary,
    ColumnClass,
    DataClasses,
    DependencyAudit,
    Finding,
    Unaudited,
    evidence_path,
)
from mlops.release.evidence_build import Parts, pack
from mlops.release.manifest import Release, manifest_path

pytestmark = pytest.mark.unit
RELEASE = Release.model_validate(
    {
        "env": "prod",
        "model": {"name": "churn", "version": "7"},
        "lineage": {
            "git_commit": "a" * 40,
            "dvc_lock_md5": "b" * 32,
            "dvc_remote_url": "s3://mlops-data/dvc/churn",
            "data": {"data/raw.csv": "c" * 32},
        },
        "gate": {"decision": "passed", "primary_metric": "roc_auc", "challenger": 0.93, "champion": 0.9},
    }
)
SBOM = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "idna"}, {"name": "requests"}]}


@pytest.fixture
def root(tmp_path):
    """A checkout whose prod manifest of churn carries a pack (as `release propose --evidence` commits it)."""
    parts = Parts(
        checkov=CheckovSummary(commit="e" * 40, report_sha256="1" * 64, tests=10, passed=8, failed=0, skipped=2,
                               errors=0, frameworks={"terraform scan": 10}),
        dependencies=DependencyAudit(
            tool="pip-audit", tool_version="2.10.1", vulnerability_service="pypi", requirements_sha256="2" * 64,
            lock_sha256="3" * 64, scanned_at="2026-11-30T08:00:00+00:00", dependencies=3,
            findings=[Finding(package="requests", version="2.19.0", id="PYSEC-2018-28", fix_versions=["2.20.0"])],
            unaudited=[Unaudited(package="private-pkg", reason="Dependency not found on PyPI")],
        ),
        sbom=json.dumps(SBOM).encode(),
        data_classes=DataClasses(source="churn v7: tag mlops.privacy.data_classes", columns={
            "email": ColumnClass(data_class="personal", declared=True),
            "tenure": ColumnClass(data_class="internal", declared=False),
        }),
    )  # fmt: skip
    made = pack(RELEASE, parts, "alice")
    path = manifest_path(tmp_path, "churn", "prod")
    path.parent.mkdir(parents=True)
    for name, data in made.files.items():
        (path.parent / name).write_bytes(data)
    path.write_text(RELEASE.model_copy(update={"evidence": made.ref}).to_yaml())
    return tmp_path


def show(root, *extra: str):
    return CliRunner().invoke(
        cli, ["release", "show", "--env", "prod", "--model", "churn", "--root", str(root), *extra]
    )


def test_show_evidence_prints_each_part_for_a_reader(root):
    result = show(root, "--evidence")
    assert result.exit_code == 0, result.output
    for line in [
        "release evidence: churn v7 in prod (sha256 ",
        "signature: none (unsigned)",
        "checkov: 8 passed, 0 failed, 2 skipped, 0 errors of 10 at commit " + "e" * 40,
        "dependencies: pip-audit 2.10.1 (pypi) on 2026-11-30T08:00:00+00:00: 3 pinned, 1 known vulnerabilities, "
        "1 unaudited",
        "  vulnerable: requests 2.19.0 PYSEC-2018-28 (fix: 2.20.0)",
        "  NOT AUDITED: 1 packages, e.g. private-pkg: Dependency not found on PyPI",
        "sbom: prod.sbom.json (CycloneDX 1.6 by unknown unknown, 2 components",
        "  email: personal",
        "  tenure: internal (inferred)",
        "deployment: none in the Git copy",
    ]:
        assert line in result.output, (line, result.output)
    as_json = show(root, "--evidence", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.output)["checkov"]["passed"] == 8


def test_show_evidence_refuses_a_changed_pack_naming_the_file(root):
    path = evidence_path(root, "churn", "prod")
    path.write_text(path.read_text().replace('"passed": 8', '"passed": 9'))
    result = show(root, "--evidence")
    assert result.exit_code == 1 and "prod.evidence.json was changed" in result.output
    assert show(root, "--deployed").exit_code == 2  # a usage error: --deployed goes with --evidence


def test_a_required_signature_refuses_a_manifest_without_a_pack(tmp_path):
    evidence, note = checked_evidence(Settings(), tmp_path, RELEASE, None)
    assert evidence is None and "no evidence pack" in note
    with pytest.raises(MlopsError, match="carries no evidence, but evidence signed by alias/release is required"):
        checked_evidence(Settings(), tmp_path, RELEASE, "alias/release")


def test_evidence_options_are_checked_before_any_work():
    propose = ["release", "propose", "--env", "dev", "--model", "churn", "--version", "1", "--repo", "/nowhere.git"]
    signed = CliRunner().invoke(cli, [*propose, "--signing-key", "alias/release"])
    assert signed.exit_code == 2 and "--signing-key signs the evidence pack: it needs --evidence" in signed.output
    deploy = CliRunner().invoke(cli, ["release", "deploy", "--env", "dev", "--approved-at", "2026-11-30T08:00:00Z"])
    assert deploy.exit_code == 2 and "--approved-at goes with --approved-by" in deploy.output
