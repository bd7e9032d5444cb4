"""The evidence pack of a release: one JSON file next to the manifest (`deploy/<model>/<env>.evidence.json`) and the
CycloneDX SBOM it names (`deploy/<model>/<env>.sbom.json`), both committed with the manifest.

The manifest references the evidence by sha256 (and, when a signing key is configured, a KMS signature of that
digest: mlops.release.signing); the evidence references the SBOM by sha256. So an auditor reads one file, and a
changed byte in either file, or a manifest whose lineage or gate no longer matches its evidence, is refused by
`load_evidence` (what `release show --evidence` and `release deploy` call). The deploy adds who approved and who
deployed (`Deployment`) and stores the whole pack as the env's deployed evidence in S3, beside the live release.

This module is the one definition of the format; `python -m mlops.release.evidence` prints its JSON Schema.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlops.core.data_classes import DataClass
from mlops.core.errors import MlopsError
from mlops.release.manifest import (
    API_VERSION,
    SHA256_PATTERN,
    Gate,
    Image,
    Lineage,
    ModelVersion,
    Release,
    manifest_path,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckovSummary(_Strict):
    """`make scan`'s JUnit report (reports/checkov.xml), counted over every framework it scanned."""

    commit: str = Field(pattern=r"^[0-9a-f]{40}$", description="The platform commit the scan ran on")
    report_sha256: str = Field(pattern=SHA256_PATTERN)
    tests: int = Field(ge=0)
    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0, description="Inline skips (each listed with its reason in terraform/SECURITY.md)")
    errors: int = Field(ge=0)
    frameworks: dict[str, int] = Field(description="Test suite name -> checks in it")


class Finding(_Strict):
    package: str
    version: str
    id: str = Field(description="Advisory id (PYSEC-..., GHSA-..., CVE-...)")
    aliases: list[str] = Field(default_factory=list)
    fix_versions: list[str] = Field(default_factory=list)


class Unaudited(_Strict):
    package: str
    reason: str = Field(description="Why the scanner could not check it (pip-audit's skip_reason)")


class DependencyAudit(_Strict):
    """A vulnerability scan of the serving environment's pinned dependencies (exported from uv.lock)."""

    tool: str = Field(min_length=1)
    tool_version: str = Field(min_length=1)
    vulnerability_service: str = Field(min_length=1, description="Where the advisories came from")
    requirements_sha256: str = Field(pattern=SHA256_PATTERN, description="The exported requirements it scanned")
    lock_sha256: str = Field(pattern=SHA256_PATTERN, description="The uv.lock they were exported from")
    scanned_at: str = Field(min_length=1)
    dependencies: int = Field(ge=0)
    findings: list[Finding]
    unaudited: list[Unaudited] = Field(description="Dependencies the service had no answer for: not vouched for")

    @property
    def complete(self) -> bool:
        return not self.unaudited


class SbomRef(_Strict):
    file: str = Field(pattern=r"^[a-z]+\.sbom\.json$", description="<env>.sbom.json, beside the evidence file")
    sha256: str = Field(pattern=SHA256_PATTERN)
    format: Literal["CycloneDX"] = "CycloneDX"
    spec_version: str
    tool: str
    tool_version: str
    subject: str = Field(description="What it describes (the serving package, from uv.lock)")
    components: int = Field(ge=0)


class ColumnClass(_Strict):
    data_class: DataClass = Field(description="What serving's capture applies (mlops.core.data_classes)")
    declared: bool = Field(description="false: none declared in params.yaml, inferred from the column's name")


class DataClasses(_Strict):
    source: str = Field(description="Where the declared classes were read from")
    columns: dict[str, ColumnClass] = Field(description="Each model input's data class")


class Deployment(_Strict):
    """What the deploy adds: the commit it deployed, who approved it and when, who deployed, its record."""

    commit: str = Field(min_length=1, description="The main commit deployed (the merge of the release)")
    approved_by: str = Field(min_length=1)
    approved_at: str = Field(min_length=1)
    approval_source: str = Field(description="How the approver is known (Jenkins' input step or the merge commit)")
    deployed_by: str = Field(min_length=1)
    deployed_at: str = Field(min_length=1)
    rolled_out: bool
    deploy_record: str | None = Field(None, description="The canary's deploy record (S3 URI), when rolled out")
    deploy_record_sha256: str | None = Field(None, pattern=SHA256_PATTERN)


class Evidence(_Strict):
    apiVersion: Literal["mlops.r5/v1"] = API_VERSION  # noqa: N815 - as the manifest
    kind: Literal["ReleaseEvidence"] = "ReleaseEvidence"
    env: str
    model: ModelVersion
    image: Image | None
    # the manifest's own types: the same lineage and gate, checked equal to the manifest's on every load
    lineage: Lineage
    gate: Gate
    generated_at: str
    generated_by: str
    checkov: CheckovSummary
    dependencies: DependencyAudit
    sbom: SbomRef
    data_classes: DataClasses
    deployment: Deployment | None = Field(None, description="Added by the deploy; never in the Git copy")

    def to_json(self) -> str:
        """The bytes that are hashed and committed: stable key order, so a re-serialisation is byte-identical."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def evidence_path(root: Path, model: str, env: str) -> Path:
    return manifest_path(root, model, env).with_name(f"{env}.evidence.json")


def sbom_path(root: Path, model: str, env: str) -> Path:
    return manifest_path(root, model, env).with_name(f"{env}.sbom.json")


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())


def parse_evidence(text: str | bytes, source: str) -> Evidence:
    try:
        return Evidence.model_validate_json(text)
    except ValidationError as exc:
        raise MlopsError(f"{source} fails the ReleaseEvidence schema: {_problems(exc)}") from None


def mismatches(release: Release, evidence: Evidence) -> list[str]:
    """Where the evidence describes another release than the manifest (empty: the same one)."""
    pairs = [
        ("env", release.env, evidence.env),
        ("model", release.model, evidence.model),
        ("image", release.image, evidence.image),
        ("lineage", release.lineage, evidence.lineage),
        ("gate", release.gate, evidence.gate),
    ]
    return [name for name, ours, theirs in pairs if ours != theirs]


def load_evidence(root: Path, release: Release) -> Evidence:
    """The manifest's evidence, refused when it or its SBOM was changed after the fact (sha256), or describes
    another release. The signature (when there is one) is checked by mlops.release.signing, which needs KMS."""
    ref = release.evidence
    where = manifest_path(root, release.model.name, release.env)
    if ref is None:
        raise MlopsError(f"{where} carries no evidence: propose it with `mlops release propose --evidence DIR`")
    path = where.with_name(ref.file)
    if ref.file != evidence_path(root, release.model.name, release.env).name:
        raise MlopsError(f"{where}: evidence.file must be {evidence_path(root, release.model.name, release.env).name}")
    data = _read(path)
    if sha256_hex(data) != ref.sha256:
        raise MlopsError(f"{path} was changed: its sha256 is {sha256_hex(data)}, the manifest says {ref.sha256}")
    evidence = parse_evidence(data, str(path))
    if evidence.deployment is not None:
        raise MlopsError(f"{path} carries a deployment section: only the deployed copy in S3 has one")
    wrong = mismatches(release, evidence)
    if wrong:
        raise MlopsError(f"{path} describes another release than {where}: {', '.join(wrong)} differ")
    sbom = path.with_name(evidence.sbom.file)
    sbom_data = _read(sbom)
    if sha256_hex(sbom_data) != evidence.sbom.sha256:
        raise MlopsError(f"{sbom} was changed: its sha256 is {sha256_hex(sbom_data)}, the evidence says "
                         f"{evidence.sbom.sha256}")  # fmt: skip
    return evidence


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MlopsError(f"cannot read {path}: {exc.strerror}") from None


def json_schema() -> dict:
    schema = Evidence.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://r5-mlops.example/deploy/evidence.schema.json"
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
