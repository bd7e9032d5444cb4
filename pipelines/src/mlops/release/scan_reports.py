"""The scan reports a release's evidence is assembled from, all in one directory (Jenkins: `reports/`):

- `checkov.xml`: `make scan`'s JUnit report (checkov over Terraform, Kubernetes and Dockerfiles);
- `dependency-audit.json`: `mlops release scan`'s vulnerability audit of the serving lock (format: DependencyAudit);
- `sbom.cdx.json`: `mlops release scan`'s CycloneDX SBOM of the same exported lock.

Each reader checks what it reads and names the file and what is wrong; none writes anything.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # noqa: S405 - our own checkov's report, not input from outside
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from mlops.core.errors import MlopsError
from mlops.release.evidence import CheckovSummary, DependencyAudit, SbomRef, sha256_hex

CHECKOV_REPORT: Final = "checkov.xml"
AUDIT_REPORT: Final = "dependency-audit.json"
SBOM_REPORT: Final = "sbom.cdx.json"
RAW_AUDIT_REPORT: Final = "pip-audit.json"  # the tool's own output, kept for Jenkins' archive
REQUIREMENTS_EXPORT: Final = "serving-requirements.txt"


def read_checkov(path: Path, commit: str, commit_time: float | None = None) -> CheckovSummary:
    """Counts from checkov's JUnit report. `commit` is the checkout the scan ran on; a report older than that
    commit (`commit_time`, seconds since the epoch) was written for an earlier checkout and is refused."""
    data = _read(path, "run `make scan` first")
    if commit_time is not None and path.stat().st_mtime < commit_time:
        raise MlopsError(f"{path} is older than commit {commit[:12]}: it scanned an earlier checkout; run `make scan`")
    try:
        top = ET.fromstring(data)  # noqa: S314 - see the import
    except ET.ParseError as exc:
        raise MlopsError(f"{path} is not valid XML: {exc}") from None
    suites = [top] if top.tag == "testsuite" else top.findall("testsuite")
    if top.tag not in ("testsuites", "testsuite") or not suites:
        raise MlopsError(f"{path} is not a JUnit report: no <testsuite> (root element <{top.tag}>)")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    frameworks: dict[str, int] = {}
    for suite in suites:
        name = suite.get("name") or "unnamed"
        for attribute in counts:
            value = suite.get(attribute, "0")
            if not value.isdigit():
                raise MlopsError(f"{path}: testsuite {name!r} has {attribute}={value!r}, not a count")
            counts[attribute] += int(value)
        frameworks[name] = frameworks.get(name, 0) + int(suite.get("tests", "0"))
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    if passed < 0:
        raise MlopsError(f"{path}: more failed, errored and skipped checks than tests ({counts})")
    return CheckovSummary(
        commit=commit,
        report_sha256=sha256_hex(data),
        tests=counts["tests"],
        passed=passed,
        failed=counts["failures"],
        skipped=counts["skipped"],
        errors=counts["errors"],
        frameworks=frameworks,
    )


def read_audit(path: Path, lock_sha256: str) -> DependencyAudit:
    """The dependency audit `mlops release scan` wrote; refused when the lock changed since (a stale scan)."""
    data = _read(path, "run `mlops release scan` (make release-scan) first")
    try:
        audit = DependencyAudit.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(top)"
        raise MlopsError(f"{path} is not a dependency audit: {where}: {first['msg']}") from None
    if audit.lock_sha256 != lock_sha256:
        raise MlopsError(f"{path} audited another uv.lock (sha256 {audit.lock_sha256[:12]}, now {lock_sha256[:12]}): "
                         "run `mlops release scan` again")  # fmt: skip
    return audit


def read_sbom(path: Path) -> bytes:
    """A CycloneDX JSON SBOM's bytes, checked (parse_bom) before they are used."""
    data = _read(path, "run `mlops release scan` (make release-scan) first")
    parse_bom(data, str(path))
    return data


def parse_bom(data: bytes, source: str) -> dict[str, Any]:
    """A CycloneDX JSON document, or a MlopsError naming `source`."""
    try:
        bom = json.loads(data)
    except json.JSONDecodeError as exc:
        raise MlopsError(f"{source} is not JSON: {exc}") from None
    if not isinstance(bom, dict) or bom.get("bomFormat") != "CycloneDX" or not bom.get("specVersion"):
        raise MlopsError(f"{source} is not a CycloneDX SBOM (bomFormat, specVersion)")
    return bom


def describe_sbom(data: bytes, file_name: str, source: str) -> SbomRef:
    """What the evidence says of a CycloneDX JSON SBOM stored as `file_name`: its checksum, spec, generator, size."""
    bom = parse_bom(data, source)
    metadata = bom.get("metadata") or {}
    tools = (metadata.get("tools") or {}).get("components") or [{}]
    subject = metadata.get("component") or {}
    return SbomRef(
        file=file_name,
        sha256=sha256_hex(data),
        spec_version=str(bom["specVersion"]),
        tool=str(tools[0].get("name", "unknown")),
        tool_version=str(tools[0].get("version", "unknown")),
        subject=f"{subject.get('name', 'unknown')} {subject.get('version', '')}".strip(),
        components=len(bom.get("components") or []),
    )


@dataclass(frozen=True)
class ScannedCheckout:
    root: Path  # the working tree (its uv.lock is what `mlops release scan` audited)
    commit: str
    commit_time: float


def scanned_checkout(reports: Path) -> ScannedCheckout:
    """The platform checkout holding `reports` and its HEAD (Jenkins checks out GIT_COMMIT): what was scanned."""
    import git

    try:
        repo = git.Repo(reports, search_parent_directories=True)
        head = repo.head.commit
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        raise MlopsError(f"{reports} is not in a Git checkout: the scan reports need the commit they scanned") from None
    return ScannedCheckout(Path(repo.working_tree_dir or reports), head.hexsha, float(head.committed_date))


def _read(path: Path, hint: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MlopsError(f"no {path}: {hint}") from None
    except OSError as exc:
        raise MlopsError(f"cannot read {path}: {exc.strerror}") from None
