"""The release manifest (`deploy/<model>/<env>.yaml`) and the per-env policy (`deploy/policy.yaml`).

A manifest is the one place that says which model version, image and serving settings run in an env, and why it
was allowed (lineage and gate decision copied from the version's tags). `deploy/release.schema.json` is generated
from `Release` (`python -m mlops.release.manifest > deploy/release.schema.json`); a unit test keeps it in step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlops.core.contracts import MODEL_NAME_PATTERN, Environment
from mlops.core.errors import MlopsError

API_VERSION: Final = "mlops.r5/v1"
SHA256_PATTERN: Final = r"^[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not silently ignored


class ModelVersion(_Strict):
    name: str = Field(pattern=MODEL_NAME_PATTERN, description="Registered model name")
    version: str = Field(pattern=r"^[1-9][0-9]*$", description="Registered model version")


class Lineage(_Strict):
    git_commit: str = Field(pattern=r"^[0-9a-f]{40}$", description="Model project commit (mlops.git.commit)")
    dvc_lock_md5: str = Field(pattern=r"^[0-9a-f]{32}$", description="md5 of dvc.lock (mlops.dvc.lock_md5)")
    dvc_remote_url: str = Field(min_length=1, description="DVC remote holding the data (mlops.dvc.remote_url)")
    data: dict[str, str] = Field(min_length=1, description="Input path -> DVC md5 (mlops.data.<path>.md5)")


class Image(_Strict):
    repository: str = Field(min_length=1, description="ECR repository of the serving image")
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="Image digest; tags move, digests do not")


class Serving(_Strict):
    replicas: int = Field(2, ge=1, le=100, description="Serving replicas (EKS) or instances (ASG)")
    max_batch_rows: int = Field(1024, ge=1, description="MLOPS_SERVE_MAX_BATCH_ROWS")
    max_wait_ms: float = Field(5.0, ge=0, le=1000, description="MLOPS_SERVE_MAX_WAIT_MS")
    capture_sample_rate: float = Field(0.0, ge=0, le=1, description="MLOPS_SERVE_CAPTURE_SAMPLE_RATE")

    def environment(self) -> dict[str, str]:
        """The serving process's settings (mlops.core.settings) that a rollout hands to the new color."""
        return {
            "MLOPS_SERVE_MAX_BATCH_ROWS": str(self.max_batch_rows),
            "MLOPS_SERVE_MAX_WAIT_MS": str(self.max_wait_ms),
            "MLOPS_SERVE_CAPTURE_SAMPLE_RATE": str(self.capture_sample_rate),
        }


class Gate(_Strict):
    decision: Literal["passed"] = Field(description="mlops.gate.decision; only passed versions are released")
    primary_metric: str = Field(min_length=1)
    challenger: float | None = Field(description="The version's primary metric on the held-out rows")
    champion: float | None = Field(None, description="The champion's, on the same rows (none for a first model)")
    champion_version: str | None = None


class Signature(_Strict):
    key_id: str = Field(min_length=1, description="The KMS key that signed (its ARN)")
    algorithm: str = Field(min_length=1, description="KMS signing algorithm, e.g. ECDSA_SHA_256")
    value: str = Field(min_length=1, description="Base64 signature of the evidence file's sha256 digest")


class EvidenceRef(_Strict):
    """The release's evidence pack (mlops.release.evidence), by checksum: a changed byte is refused."""

    file: str = Field(pattern=r"^[a-z]+\.evidence\.json$", description="<env>.evidence.json, beside the manifest")
    sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of the evidence file's bytes")
    signature: Signature | None = Field(None, description="null: unsigned (no signing key was configured)")


class Release(_Strict):
    apiVersion: Literal["mlops.r5/v1"] = API_VERSION  # noqa: N815 - the Kubernetes-style key users expect
    kind: Literal["Release"] = "Release"
    env: Environment
    model: ModelVersion
    lineage: Lineage
    image: Image | None = Field(None, description="null: the release moves the model only; a rollout needs one")
    serving: Serving = Field(default_factory=Serving)
    gate: Gate
    evidence: EvidenceRef | None = Field(None, description="The evidence pack; null: proposed without one")

    def to_yaml(self) -> str:
        header = f"# {self.model.name} in {self.env}: written by `mlops release propose`; review, merge, deploy.\n"
        return header + yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


class EnvPolicy(_Strict):
    auto_merge: bool = Field(description="true: propose fast-forwards main itself; false: the branch waits for review")
    reviewers: list[str] = Field(default_factory=list, description="Who reviews (shown in the pull request text)")


class Policy(_Strict):
    apiVersion: Literal["mlops.r5/v1"] = API_VERSION  # noqa: N815
    kind: Literal["ReleasePolicy"] = "ReleasePolicy"
    environments: dict[Environment, EnvPolicy]

    def for_env(self, env: str) -> EnvPolicy:
        if env not in self.environments:
            raise MlopsError(f"deploy/policy.yaml has no entry for env {env!r}")
        return self.environments[env]


DEFAULT_POLICY = Policy(
    environments={
        "dev": EnvPolicy(auto_merge=True),
        "staging": EnvPolicy(auto_merge=False),
        "prod": EnvPolicy(auto_merge=False),
    }
)


def manifest_path(root: Path, model: str, env: str) -> Path:
    return Path(root) / "deploy" / model / f"{env}.yaml"


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())


def _load(path: Path, kind):
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise MlopsError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise MlopsError(f"{path} is not valid YAML: {exc}") from None
    try:
        return kind.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise MlopsError(f"{path} fails the {kind.__name__} schema: {_problems(exc)}") from None


def parse_release(text: str, source: str) -> Release:
    """A manifest from text (a file, a Git blob, an S3 object); errors name the source and the field."""
    try:
        raw = yaml.safe_load(text)
        return Release.model_validate(raw if raw is not None else {})
    except yaml.YAMLError as exc:
        raise MlopsError(f"{source} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise MlopsError(f"{source} fails the Release schema: {_problems(exc)}") from None


def load_release(root: Path, model: str, env: str) -> Release:
    path = manifest_path(root, model, env)
    if not path.is_file():
        raise MlopsError(f"no release manifest {path}: propose one with `mlops release propose`")
    release = _load(path, Release)
    if (release.model.name, release.env) != (model, env):
        raise MlopsError(
            f"{path} describes {release.model.name} in {release.env}, not {model} in {env} (the path must match)"
        )
    return release


def load_policy(root: Path) -> Policy:
    """The repo's `deploy/policy.yaml`; the defaults (dev merges itself, staging/prod wait) when it has none."""
    path = Path(root) / "deploy" / "policy.yaml"
    return _load(path, Policy) if path.exists() else DEFAULT_POLICY


def json_schema() -> dict:
    schema = Release.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://r5-mlops.example/deploy/release.schema.json"
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
