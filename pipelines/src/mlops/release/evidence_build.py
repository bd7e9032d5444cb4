"""Assembling a release's evidence pack. `read_parts` reads and checks every input before anything is cloned (the
scan reports, the model's data classes); `pack` turns them and the manifest into the files committed beside it and
the reference the manifest carries (sha256, and a KMS signature when a key is given)."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlops.core.clients import Registry
from mlops.core.data_classes import DATA_CLASSES_TAG, classes_for, classes_from_tags
from mlops.core.errors import MlopsError
from mlops.release.evidence import (
    CheckovSummary,
    ColumnClass,
    DataClasses,
    DependencyAudit,
    Evidence,
    SbomRef,
    evidence_path,
    sbom_path,
    sha256_hex,
)
from mlops.release.manifest import EvidenceRef, Release, Signature
from mlops.release.scan_reports import (
    AUDIT_REPORT,
    CHECKOV_REPORT,
    SBOM_REPORT,
    describe_sbom,
    read_audit,
    read_checkov,
    read_sbom,
)

# the MLflow run param naming a version's inputs (mlops.training logs params.yaml flattened)
FEATURES_PARAM = "data.features"


@dataclass(frozen=True)
class Parts:
    """Everything in the evidence that does not depend on the manifest, read and checked up front."""

    checkov: CheckovSummary
    dependencies: DependencyAudit
    sbom: bytes
    data_classes: DataClasses


@dataclass(frozen=True)
class Pack:
    ref: EvidenceRef
    files: dict[str, bytes]  # file name beside the manifest -> content


def data_classes(params: dict[str, str], tags: dict[str, str], source: str) -> DataClasses:
    """Each model input (the version's `data.features` run param) with its data class: declared in params.yaml
    (the version's `mlops.privacy.data_classes` tag), else inferred from its name as serving's capture does."""
    text = params.get(FEATURES_PARAM)
    try:
        features = ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError):
        features = None
    if not isinstance(features, list) or not features:
        raise MlopsError(f"{source} has no {FEATURES_PARAM} list: cannot tell the model's inputs")
    declared = classes_from_tags(tags, source)
    effective = classes_for([str(f) for f in features], declared)
    return DataClasses(
        source=f"{source}: tag {DATA_CLASSES_TAG}" if declared else f"{source}: no {DATA_CLASSES_TAG} tag",
        columns={c: ColumnClass(data_class=k, declared=c in declared) for c, k in effective.items()},
    )


def version_data_classes(registry: Registry, model: str, version: str) -> DataClasses:
    found = registry.client.get_model_version(model, version)
    if not found.run_id:
        raise MlopsError(f"{model} version {version} has no run: its inputs (data.features) are unknown")
    params = registry.client.get_run(found.run_id).data.params
    return data_classes(params, dict(found.tags or {}), f"{model} v{version}")


def read_parts(reports: Path, commit: str, commit_time: float | None, lock_sha256: str, classes: DataClasses) -> Parts:
    """The scan reports in `reports`, each checked (see mlops.release.scan_reports)."""
    return Parts(
        checkov=read_checkov(reports / CHECKOV_REPORT, commit, commit_time),
        dependencies=read_audit(reports / AUDIT_REPORT, lock_sha256),
        sbom=read_sbom(reports / SBOM_REPORT),
        data_classes=classes,
    )


def assemble(release: Release, parts: Parts, sbom: SbomRef, generated_by: str) -> Evidence:
    return Evidence(
        env=release.env,
        model=release.model,
        image=release.image,
        lineage=release.lineage,
        gate=release.gate,
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        generated_by=generated_by,
        checkov=parts.checkov,
        dependencies=parts.dependencies,
        sbom=sbom,
        data_classes=parts.data_classes,
    )


def pack(release: Release, parts: Parts, generated_by: str, sign: Callable[[str], Signature] | None = None) -> Pack:
    """The evidence and SBOM files for `release`, and the reference its manifest carries."""
    root = Path(".")
    evidence_name = evidence_path(root, release.model.name, release.env).name
    sbom_name = sbom_path(root, release.model.name, release.env).name
    sbom = describe_sbom(parts.sbom, sbom_name, SBOM_REPORT)
    body = assemble(release, parts, sbom, generated_by).to_json().encode()
    digest = sha256_hex(body)
    ref = EvidenceRef(file=evidence_name, sha256=digest, signature=sign(digest) if sign else None)
    return Pack(ref, {evidence_name: body, sbom_name: parts.sbom})
