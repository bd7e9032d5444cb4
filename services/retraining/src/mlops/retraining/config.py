"""The models the retraining service looks after: a YAML file (`MLOPS_RETRAIN_CONFIG` or `--config`).

```yaml
models:
  - name: churn                              # registered model name
    project: https://git.example.com/churn.git  # or a local path: the model project's Git repository
    branch: main                             # the newest commit here is the newest data version
    params: params.yaml
    schedule: "0 3 * * 1"                    # cron, UTC; omit for drift-triggered only
    release: {env: staging, repo: https://git.example.com/r5-mlops.git}  # optional: propose a release on a pass
    backend: local                           # local | sagemaker | k8s: where the pipeline stages run
    sagemaker: {instance_type: ml.m5.4xlarge, timeout_seconds: 21600}  # optional, over the MLOPS_RETRAIN_SAGEMAKER_*
    k8s: {image: ECR/mlops-ops:TAG, env: prod, cpu: "4", memory: 16Gi, node_selector: {karpenter.sh/nodepool: train}}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlops.core.contracts import MODEL_NAME_PATTERN, Environment, eks_namespace, eks_service_accounts
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings

Backend = Literal["local", "sagemaker", "k8s"]
BACKENDS: Final[tuple[Backend, ...]] = ("local", "sagemaker", "k8s")
# the service account the IRSA role of retraining trusts (core/src/mlops/core/contracts_eks.json), in every env
RETRAIN_SERVICE_ACCOUNT: Final = eks_service_accounts("retraining")[0]


class ReleaseTarget(BaseModel):
    """After a passing gate, `mlops release propose` for this env (mlops.release); off when absent."""

    model_config = ConfigDict(extra="forbid")

    env: Environment
    repo: str | None = Field(None, min_length=1, description="Release repo; default: origin of the current checkout")
    evidence: Path | None = Field(
        None, description="Scan reports (`make scan release-scan`) to attach as the release's evidence pack"
    )
    signing_key: str | None = Field(None, min_length=1, description="KMS asymmetric key that signs the evidence")


class SageMakerConfig(BaseModel):
    """Per model, over the env's MLOPS_RETRAIN_SAGEMAKER_* settings (the role, subnets and key stay the env's)."""

    model_config = ConfigDict(extra="forbid")

    image: str | None = Field(None, min_length=1, description="Training image URI")
    instance_type: str | None = Field(None, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    volume_gb: int | None = Field(None, ge=1, le=16384)
    max_runtime_seconds: int | None = Field(None, ge=60, le=28 * 86400)
    timeout_seconds: float | None = Field(None, gt=0)

    def apply(self, settings: Settings) -> Settings:
        given = self.model_dump(exclude_none=True)
        return settings.model_copy(update={f"retrain_sagemaker_{key}": value for key, value in given.items()})


class K8sConfig(BaseModel):
    """Where the Job of the k8s backend runs (mlops.retraining.k8s_job.K8sOptions). With `env` it runs where the IRSA
    role of retraining trusts it (namespace mlops-ENV, service account mlops-retrain); `namespace` alone is a
    cluster of one's own, taken as given."""

    model_config = ConfigDict(extra="forbid")

    image: str | None = Field(None, min_length=1)
    env: Environment | None = None
    namespace: str | None = Field(None, min_length=1)
    service_account: str = RETRAIN_SERVICE_ACCOUNT
    cpu: str = "2"
    memory: str = "8Gi"
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, str]] = Field(default_factory=list)
    timeout_seconds: int = Field(6 * 3600, ge=1)
    kube_context: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _trusted(self) -> K8sConfig:
        if self.env is None:
            return self
        expected, trusted = eks_namespace(self.env), eks_service_accounts("retraining")
        if self.namespace not in (None, expected):
            raise ValueError(
                f"namespace {self.namespace!r}, but the IRSA role of retraining in {self.env} trusts namespace "
                f"{expected!r} only"
            )
        if self.service_account not in trusted:
            accounts = ", ".join(f"{expected}/{account}" for account in trusted)
            raise ValueError(
                f"service account {self.service_account!r}, but the IRSA role of retraining in {self.env} trusts "
                f"{accounts} only"
            )
        return self

    def options(self) -> dict[str, Any]:
        """The fields of K8sOptions; the image and the namespace are required by now."""
        if not self.image:
            raise MlopsError("the k8s backend needs an image (--image, or k8s.image in the retraining config)")
        namespace = eks_namespace(self.env) if self.env else self.namespace
        if namespace is None:
            raise MlopsError(
                "the k8s backend needs an env (--env, k8s.env: the Job runs in mlops-ENV as "
                f"{RETRAIN_SERVICE_ACCOUNT}, which the IRSA role of retraining trusts) or a namespace (--namespace, "
                "k8s.namespace)"
            )
        return {
            "image": self.image,
            "namespace": namespace,
            "service_account": self.service_account,
            "cpu": self.cpu,
            "memory": self.memory,
            "node_selector": dict(self.node_selector),
            "timeout_seconds": self.timeout_seconds,
            "kube_context": self.kube_context,
            **({"tolerations": tuple(self.tolerations)} if self.tolerations else {}),
        }


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=MODEL_NAME_PATTERN)
    project: str = Field(min_length=1)
    branch: str = "main"
    params: str = "params.yaml"
    schedule: str | None = None
    release: ReleaseTarget | None = None
    backend: Backend = "local"
    sagemaker: SageMakerConfig = Field(default_factory=SageMakerConfig)
    k8s: K8sConfig = Field(default_factory=K8sConfig)

    @model_validator(mode="after")
    def _backend_complete(self) -> ModelConfig:
        if self.backend == "k8s":
            try:
                self.k8s.options()
            except MlopsError as exc:
                raise ValueError(str(exc)) from None
        return self

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from croniter import croniter

        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (e.g. '0 3 * * *')")
        return value


class RetrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelConfig] = Field(min_length=1)

    def get(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        known = ", ".join(m.name for m in self.models)
        raise MlopsError(f"model {name!r} is not in the retraining config (configured: {known})")


def load_config(path: Path | None) -> RetrainConfig:
    if path is None:
        raise MlopsError("no retraining config: pass --config FILE or set MLOPS_RETRAIN_CONFIG")
    if not path.is_file():
        raise MlopsError(f"retraining config {path} does not exist or is not a file")
    try:
        raw = yaml.safe_load(path.read_text())
        config = RetrainConfig.model_validate(raw)
    except yaml.YAMLError as exc:
        raise MlopsError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise MlopsError(f"{path}: {problems}") from None
    names = [m.name for m in config.models]
    if len(names) != len(set(names)):
        raise MlopsError(f"{path}: a model is listed twice ({names})")
    return config
