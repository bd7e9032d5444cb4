"""The evidence pack of a release: its format, reading checkov's JUnit report, pip-audit's JSON and a CycloneDX SBOM,
the data classes of the model's inputs, assembling the pack beside a manifest, and refusing a pack (or SBOM) changed
after the fact, one describing another release, or inputs that are missing, stale or malformed."""

from __future__ import annotations

import json
import os
import time

import pytest

from mlops.core.errors import MlopsError
from mlops.release.evidence import (
    DependencyAudit,
    Deployment,
    Evidence,
    evidence_path,
    json_schema,
    load_evidence,
    parse_evidence,
    sbom_path,
    sha256_hex,
)
from mlops.release.evidence_build import data_classes, pack, read_parts
from mlops.release.gitops import commit_message
from mlops.release.manifest import Release, manifest_path, parse_release
from mlops.release.scan_reports import read_audit, read_checkov
from mlops.release.scanners import parse_pip_audit

pytestmark = pytest.mark.unit
COMMIT = "e" * 40
LOCK_SHA = "f" * 64
RELEASE = Release.model_validate(
    {
        "env": "staging",
        "model": {"name": "churn", "version": "7"},
        "lineage": {
            "git_commit": "a" * 40,
            "dvc_lock_md5": "b" * 32,
            "dvc_remote_url": "s3://mlops-data/dvc/churn",
            "data": {"data/raw.csv": "c" * 32},
        },
        "image": {"repository": "mlops-serve", "digest": "sha256:" + "d" * 64},
        "gate": {"decision": "passed", "primary_metric": "roc_auc", "challenger": 0.93, "champion": 0.9},
    }
)
# the shape of checkov's --output junitxml (reports/checkov.xml): one suite per framework
CHECKOV_XML = """<?xml version="1.0" ?>
<testsuites disabled="0" errors="0" failures="1" tests="9" time="0.0">
  <testsuite disabled="0" errors="0" failures="0" name="dockerfile scan" skipped="0" tests="3" time="0"/>
  <testsuite disabled="0" errors="0" failures="1" name="terraform scan" skipped="2" tests="6" time="0">
    <testcase name="[NONE][CKV_AWS_1] x" classname="a.tf"><failure type="failure" message="x"/></testcase>
  </testsuite>
</testsuites>
"""
# pip-audit -f json: an audited dependency with an advisory, a clean one, one the service had no answer for
PIP_AUDIT_JSON = {
    "dependencies": [
        {
            "name": "requests",
            "version": "2.19.0",
            "vulns": [
                {
                    "id": "PYSEC-2018-28",
                    "fix_versions": ["2.20.0"],
                    "aliases": ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"],
                    "description": "The Requests package before 2.20.0 ...",
                }
            ],
        },
        {"name": "idna", "version": "3.7", "vulns": []},
        {"name": "private-pkg", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    ],
    "fixes": [],
}
SBOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "metadata": {
        "tools": {"components": [{"name": "cyclonedx-py", "version": "7.5.0"}]},
        "component": {"name": "mlops-serving", "version": "0.1.0"},
    },
    "components": [{"name": "requests", "version": "2.19.0", "purl": "pkg:pypi/requests@2.19.0"}],
}


def audit() -> DependencyAudit:
    return parse_pip_audit(json.dumps(PIP_AUDIT_JSON), "2.10.1", "1" * 64, LOCK_SHA, "pip-audit.json")


@pytest.fixture
def reports(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "checkov.xml").write_text(CHECKOV_XML)
    (folder / "dependency-audit.json").write_text(audit().model_dump_json())
    (folder / "sbom.cdx.json").write_text(json.dumps(SBOM))
    return folder


def parts(reports):
    classes = data_classes({"data.features": "['tenure', 'email']"}, {}, "churn v7")
    return read_parts(reports, COMMIT, None, LOCK_SHA, classes)


def committed(tmp_path, reports, release: Release = RELEASE) -> Release:
    """The manifest and its pack written as propose commits them; the manifest as committed."""
    made = pack(release, parts(reports), "alice")
    path = manifest_path(tmp_path, release.model.name, release.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, data in made.files.items():
        (path.parent / name).write_bytes(data)
    with_ref = release.model_copy(update={"evidence": made.ref})
    path.write_text(with_ref.to_yaml())
    return parse_release(path.read_text(), str(path))


def test_checkov_counts_come_from_every_suite_of_the_junit_report(reports):
    summary = read_checkov(reports / "checkov.xml", COMMIT)
    assert (summary.tests, summary.passed, summary.failed, summary.skipped, summary.errors) == (9, 6, 1, 2, 0)
    assert summary.frameworks == {"dockerfile scan": 3, "terraform scan": 6} and summary.commit == COMMIT
    assert summary.report_sha256 == sha256_hex(CHECKOV_XML.encode())


def test_a_missing_malformed_or_stale_checkov_report_is_refused_naming_it(tmp_path, reports):
    with pytest.raises(MlopsError, match=r"no .*nowhere\.xml: run `make scan` first"):
        read_checkov(tmp_path / "nowhere.xml", COMMIT)
    (tmp_path / "broken.xml").write_text("<testsuites><testsuite")
    with pytest.raises(MlopsError, match=r"broken\.xml is not valid XML"):
        read_checkov(tmp_path / "broken.xml", COMMIT)
    (tmp_path / "other.xml").write_text("<report/>")
    with pytest.raises(MlopsError, match=r"other\.xml is not a JUnit report"):
        read_checkov(tmp_path / "other.xml", COMMIT)
    (tmp_path / "count.xml").write_text('<testsuites><testsuite name="t" tests="x"/></testsuites>')
    with pytest.raises(MlopsError, match=r"testsuite 't' has tests='x'"):
        read_checkov(tmp_path / "count.xml", COMMIT)
    old = time.time() - 3600
    os.utime(reports / "checkov.xml", (old, old))
    with pytest.raises(MlopsError, match=r"older than commit eeeeeeeeeeee.*run `make scan`"):
        read_checkov(reports / "checkov.xml", COMMIT, commit_time=time.time())


def test_pip_audit_output_becomes_findings_and_unaudited_packages():
    result = audit()
    assert result.dependencies == 3 and not result.complete
    assert [(f.package, f.version, f.id, f.fix_versions) for f in result.findings] == [
        ("requests", "2.19.0", "PYSEC-2018-28", ["2.20.0"])
    ]
    assert "CVE-2018-18074" in result.findings[0].aliases
    assert [u.package for u in result.unaudited] == ["private-pkg"]
    assert result.tool == "pip-audit" and result.tool_version == "2.10.1" and "pypi" in result.vulnerability_service
    with pytest.raises(MlopsError, match="pip-audit.json is not pip-audit JSON output"):
        parse_pip_audit("[]", "2.10.1", "1" * 64, LOCK_SHA, "pip-audit.json")


def test_an_audit_of_another_lock_is_stale(reports):
    with pytest.raises(MlopsError, match=r"audited another uv.lock .*run `mlops release scan` again"):
        read_audit(reports / "dependency-audit.json", "0" * 64)
    (reports / "dependency-audit.json").write_text("{}")
    with pytest.raises(MlopsError, match=r"dependency-audit.json is not a dependency audit: tool"):
        read_audit(reports / "dependency-audit.json", LOCK_SHA)


def test_data_classes_are_declared_or_inferred_as_the_capture_does():
    declared = {"mlops.privacy.data_classes": json.dumps({"tenure": "public"})}
    classes = data_classes({"data.features": "['tenure', 'email', 'score']"}, declared, "churn v7")
    assert {c: (k.data_class, k.declared) for c, k in classes.columns.items()} == {
        "tenure": ("public", True),
        "email": ("personal", False),  # inferred from the name
        "score": ("internal", False),
    }
    assert "mlops.privacy.data_classes" in classes.source
    with pytest.raises(MlopsError, match="churn v7 has no data.features list"):
        data_classes({}, {}, "churn v7")


def test_the_pack_sits_beside_the_manifest_and_loads_back_as_assembled(tmp_path, reports):
    release = committed(tmp_path, reports)
    assert release.evidence is not None and release.evidence.signature is None
    assert release.evidence.file == "staging.evidence.json"
    evidence = load_evidence(tmp_path, release)
    assert (evidence.lineage, evidence.gate, evidence.image) == (RELEASE.lineage, RELEASE.gate, RELEASE.image)
    assert evidence.checkov.failed == 1 and evidence.dependencies.findings[0].id == "PYSEC-2018-28"
    assert evidence.sbom.file == "staging.sbom.json" and evidence.sbom.components == 1
    assert evidence.sbom.sha256 == sha256_hex(sbom_path(tmp_path, "churn", "staging").read_bytes())
    assert evidence.sbom.tool == "cyclonedx-py" and evidence.sbom.subject == "mlops-serving 0.1.0"
    assert evidence.deployment is None and evidence.generated_by == "alice"
    text = evidence_path(tmp_path, "churn", "staging").read_text()
    assert parse_evidence(text, "x").to_json() == text  # byte-stable: re-serialising keeps the checksum
    assert f"evidence: staging.evidence.json sha256 {release.evidence.sha256} (unsigned)" in commit_message(
        release, None, {}
    )


@pytest.mark.parametrize("changed", ["evidence", "sbom"])
def test_a_changed_byte_in_the_pack_is_refused(tmp_path, reports, changed):
    release = committed(tmp_path, reports)
    path = (evidence_path if changed == "evidence" else sbom_path)(tmp_path, "churn", "staging")
    path.write_text(path.read_text().replace("cyclonedx-py", "cyclonedx-pz").replace('"failed": 1', '"failed": 0'))
    with pytest.raises(MlopsError, match=rf"{path.name} was changed: its sha256 is [0-9a-f]{{64}}, the"):
        load_evidence(tmp_path, release)


def test_a_pack_of_another_release_is_refused_even_with_a_matching_checksum(tmp_path, reports):
    release = committed(tmp_path, reports)
    other = release.model_copy(update={"gate": release.gate.model_copy(update={"challenger": 0.99})})
    # someone edits the manifest's gate and re-hashes nothing: the evidence still says 0.93
    with pytest.raises(MlopsError, match="describes another release than .*staging.yaml: gate differ"):
        load_evidence(tmp_path, other)


def test_a_manifest_without_evidence_or_a_pack_with_a_deployment_is_refused(tmp_path, reports):
    with pytest.raises(MlopsError, match=r"carries no evidence: propose it with `mlops release propose --evidence"):
        load_evidence(tmp_path, RELEASE)
    release = committed(tmp_path, reports)
    path = evidence_path(tmp_path, "churn", "staging")
    evidence = Evidence.model_validate_json(path.read_text())
    section = Deployment(
        commit=COMMIT, approved_by="mallory", approved_at="2026-01-01T00:00:00+00:00", approval_source="x",
        deployed_by="mallory", deployed_at="2026-01-01T00:00:00+00:00", rolled_out=False,
    )  # fmt: skip
    body = evidence.model_copy(update={"deployment": section}).to_json()
    path.write_text(body)  # a deployed copy passed off as the Git one, its checksum updated in the manifest
    assert release.evidence is not None
    ref = release.evidence.model_copy(update={"sha256": sha256_hex(body.encode())})
    with pytest.raises(MlopsError, match="carries a deployment section"):
        load_evidence(tmp_path, release.model_copy(update={"evidence": ref}))


def test_the_format_refuses_unknown_keys_and_has_a_schema(tmp_path, reports):
    committed(tmp_path, reports)
    raw = json.loads(evidence_path(tmp_path, "churn", "staging").read_text())
    raw["checkov"]["pased"] = 3
    with pytest.raises(MlopsError, match=r"x fails the ReleaseEvidence schema: checkov.pased: Extra inputs"):
        parse_evidence(json.dumps(raw), "x")
    schema = json_schema()
    assert schema["title"] == "Evidence" and "deployment" in schema["properties"]
