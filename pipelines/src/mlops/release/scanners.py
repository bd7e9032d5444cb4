"""`mlops release scan`: the serving environment's pinned dependencies (uv.lock, exported as the serving image
installs them: `--package mlops-serving --no-dev`), audited for known vulnerabilities by pip-audit and described by a
CycloneDX SBOM from cyclonedx-py. Both tools run from their own pinned venvs (.venv-tools/, scripts/tools/), each
with a time limit. The reports land in the output directory together or not at all.

pip-audit asks PyPI's JSON API for each pinned version (`/pypi/<name>/<version>/json`, whose `vulnerabilities` are
the PyPA advisory database). A PyPI mirror that does not serve that route answers "not found" for every package:
those are listed as unaudited, never counted as clean.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mlops.core.errors import MlopsError
from mlops.core.paths import REPO_ROOT
from mlops.release.evidence import DependencyAudit, Finding, Unaudited, sha256_hex
from mlops.release.scan_reports import (
    AUDIT_REPORT,
    RAW_AUDIT_REPORT,
    REQUIREMENTS_EXPORT,
    SBOM_REPORT,
    parse_bom,
    read_sbom,
)

SERVING_PACKAGE: Final = "mlops-serving"
TOOLS_DIR: Final = REPO_ROOT / ".venv-tools"
PIP_AUDIT_SERVICE: Final = "pypi"  # pip-audit's default: PyPI's JSON API (the PyPA advisory database)


@dataclass(frozen=True)
class ScanResult:
    audit: DependencyAudit
    sbom_components: int
    written: list[Path]


def tool(venv: str, executable: str) -> Path:
    path = TOOLS_DIR / venv / "bin" / executable
    if not path.exists():
        raise MlopsError(f"{path} is missing: `make setup` installs it from scripts/tools/{venv}.lock.txt")
    return path


def run(argv: list[str], what: str, timeout: float, cwd: Path | None = None) -> str:
    """A tool's stdout; a MlopsError naming the tool when it fails or runs out of time."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise MlopsError(f"{what} did not finish within {timeout:.0f}s: nothing was written") from None
    except OSError as exc:
        raise MlopsError(f"cannot run {what} ({argv[0]}): {exc.strerror}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise MlopsError(f"{what} failed (exit {done.returncode}): {detail[0]}")
    return done.stdout


def _uv() -> list[str]:
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    if not found:
        raise MlopsError("uv is not installed: it exports the serving requirements from uv.lock (`make setup`)")
    return [found]


def export_requirements(project: Path, out: Path, timeout: float) -> None:
    """The serving package's pinned dependencies from `project`'s uv.lock, as the image installs them."""
    run(
        [*_uv(), "export", "--frozen", "--no-dev", "--package", SERVING_PACKAGE, "--no-emit-workspace",
         "--no-hashes", "--format", "requirements-txt", "--quiet", "--project", str(project), "-o", str(out)],
        "uv export", timeout,
    )  # fmt: skip


def audit_requirements(requirements: Path, raw_out: Path, lock_sha256: str, timeout: float) -> DependencyAudit:
    """pip-audit on pinned requirements (no resolver, no pip: the lock already says every version)."""
    executable = tool("pip-audit", "pip-audit")
    version = run([str(executable), "--version"], "pip-audit --version", timeout).split()[-1]
    run(
        [str(executable), "-r", str(requirements), "--disable-pip", "--no-deps", "-s", PIP_AUDIT_SERVICE,
         "-f", "json", "-o", str(raw_out), "--progress-spinner", "off", "--timeout", str(max(1, int(timeout / 4)))],
        "pip-audit", timeout,
    )  # fmt: skip
    return parse_pip_audit(
        raw_out.read_text(), version, sha256_hex(requirements.read_bytes()), lock_sha256, str(raw_out)
    )


def parse_pip_audit(
    text: str, version: str, requirements_sha256: str, lock_sha256: str, source: str
) -> DependencyAudit:
    """pip-audit's JSON (`{"dependencies": [{name, version, vulns} | {name, skip_reason}], "fixes": []}`)."""
    try:
        raw = json.loads(text)
        dependencies = raw["dependencies"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise MlopsError(f"{source} is not pip-audit JSON output (no dependencies list)") from None
    findings, unaudited = [], []
    for dependency in dependencies:
        if "skip_reason" in dependency:
            unaudited.append(Unaudited(package=dependency["name"], reason=dependency["skip_reason"]))
            continue
        for vuln in dependency.get("vulns", []):
            findings.append(
                Finding(package=dependency["name"], version=dependency["version"], id=vuln["id"],
                        aliases=vuln.get("aliases", []), fix_versions=vuln.get("fix_versions", []))
            )  # fmt: skip
    return DependencyAudit(
        tool="pip-audit",
        tool_version=version,
        vulnerability_service=f"{PIP_AUDIT_SERVICE} (PyPI JSON API: the PyPA advisory database)",
        requirements_sha256=requirements_sha256,
        lock_sha256=lock_sha256,
        scanned_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        dependencies=len(dependencies),
        findings=findings,
        unaudited=unaudited,
    )


def make_sbom(requirements: Path, out: Path, timeout: float) -> None:
    """A CycloneDX 1.6 JSON SBOM of the requirements; the serving package's pyproject names the root component."""
    run(
        [str(tool("cyclonedx-bom", "cyclonedx-py")), "requirements", str(requirements),
         "--pyproject", str(REPO_ROOT / "services" / "serving" / "pyproject.toml"), "--sv", "1.6", "--of", "JSON",
         "--output-reproducible", "-o", str(out)],
        "cyclonedx-py", timeout,
    )  # fmt: skip


def scan(out_dir: Path, project: Path = REPO_ROOT, timeout: float = 300.0) -> ScanResult:
    """Export, audit and describe the serving lock of `project`; write the reports into `out_dir` all at once."""
    lock = project / "uv.lock"
    try:
        lock_sha256 = sha256_hex(lock.read_bytes())
    except OSError as exc:
        raise MlopsError(f"cannot read {lock}: {exc.strerror}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".release-scan-", dir=out_dir) as tmp:
        work = Path(tmp)
        requirements = work / REQUIREMENTS_EXPORT
        export_requirements(project, requirements, timeout)
        audit = audit_requirements(requirements, work / RAW_AUDIT_REPORT, lock_sha256, timeout)
        (work / AUDIT_REPORT).write_text(audit.model_dump_json(indent=2) + "\n")
        make_sbom(requirements, work / SBOM_REPORT, timeout)
        components = len(parse_bom(read_sbom(work / SBOM_REPORT), SBOM_REPORT).get("components") or [])
        written = []
        for name in (REQUIREMENTS_EXPORT, RAW_AUDIT_REPORT, AUDIT_REPORT, SBOM_REPORT):  # every tool succeeded
            (work / name).replace(out_dir / name)
            written.append(out_dir / name)
    return ScanResult(audit, components, written)
