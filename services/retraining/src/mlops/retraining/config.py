"""The models the retraining service looks after: a YAML file (`MLOPS_RETRAIN_CONFIG` or `--config`).

```yaml
models:
  - name: churn                              # registered model name
    project: https://git.example.com/churn.git  # or a local path: the model project's Git repository
    branch: main                             # the newest commit here is the newest data version
    params: params.yaml
    schedule: "0 3 * * 1"                    # cron, UTC; omit for drift-triggered only
    release: {env: staging, repo: https://git.example.com/r5-mlops.git}  # optional: propose a release on a pass
```
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlops.core.contracts import MODEL_NAME_PATTERN, Environment
from mlops.core.errors import MlopsError


class ReleaseTarget(BaseModel):
    """After a passing gate, `mlops release propose` for this env (mlops.release); off when absent."""

    model_config = ConfigDict(extra="forbid")

    env: Environment
    repo: str | None = Field(None, min_length=1, description="Release repo; default: origin of the current checkout")
    evidence: Path | None = Field(
        None, description="Scan reports (`make scan release-scan`) to attach as the release's evidence pack"
    )
    signing_key: str | None = Field(None, min_length=1, description="KMS asymmetric key that signs the evidence")


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=MODEL_NAME_PATTERN)
    project: str = Field(min_length=1)
    branch: str = "main"
    params: str = "params.yaml"
    schedule: str | None = None
    release: ReleaseTarget | None = None

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
