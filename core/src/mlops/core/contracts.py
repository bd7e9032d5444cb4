"""The formats the parts share, each named once: env names, registry aliases and tags, model references, where
objects live in S3, and the drift event. Terraform (terraform/modules), the Jenkins library and the model template
use the same strings; tests/unit/test_contracts.py holds them to these.

Buckets (settings, created by Terraform or the local stack):
- capture bucket: served requests (`capture/`) and the labels that arrive later (`labels/`);
- data bucket: the DVC remote, drift events and their consumed markers, drift reports, audit records, alerts;
- artifact bucket: MLflow artifacts, live releases, deploy records.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlops.core.errors import MlopsError

# ---- environments and aliases --------------------------------------------------------------------------------
Environment = Literal["dev", "staging", "prod"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = ("dev", "staging", "prod")
# The champion alias is a setting (MLOPS_CHAMPION_ALIAS, default "champion"): read `settings.champion_alias`.
PREVIOUS_ALIAS: Final = "previous"  # the champion before the last move: what `mlops rollback` returns to
# Each env's serving follows the alias named after the env (`@staging`), moved by `mlops release deploy`.

MODEL_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def env_alias(env: Environment) -> str:
    return env


# ---- registry tags -------------------------------------------------------------------------------------------
class Tags:
    """Tag names on MLflow runs and model versions (lineage, gate, retraining, promotion)."""

    GIT_COMMIT: Final = "mlops.git.commit"
    GIT_DIRTY: Final = "mlops.git.dirty"
    PROJECT_URL: Final = "mlops.project.url"
    PROJECT_PARAMS: Final = "mlops.project.params"
    DVC_LOCK_MD5: Final = "mlops.dvc.lock_md5"
    DVC_REMOTE_URL: Final = "mlops.dvc.remote_url"
    DATA_PREFIX: Final = "mlops.data."  # + "<project-relative path>.md5"
    GATE_DECISION: Final = "mlops.gate.decision"  # "passed" | "rejected"
    GATE_REASONS: Final = "mlops.gate.reasons"  # JSON list
    GATE_NUMBERS: Final = "mlops.gate.numbers"  # JSON object
    RETRAIN_TRIGGER: Final = "mlops.retrain.trigger"
    RETRAIN_EVENTS: Final = "mlops.retrain.events"  # comma-separated drift event ids
    RETRAIN_TRAINING_JOB: Final = "mlops.retrain.training_job"  # the SageMaker training job that produced it
    PROMOTED: Final = "mlops.promoted"  # the audit record of the move that made this version champion
    LAST_PROMOTION: Final = "mlops.last_promotion"  # on the registered model

    REQUIRED_LINEAGE: Final = (GIT_COMMIT, DVC_LOCK_MD5, DVC_REMOTE_URL)

    @staticmethod
    def data_md5(path: str) -> str:
        return f"{Tags.DATA_PREFIX}{path}.md5"

    @staticmethod
    def data_paths(tags: dict[str, str]) -> dict[str, str]:
        """Input path -> DVC md5, from a version's tags."""
        return {
            key[len(Tags.DATA_PREFIX) : -len(".md5")]: value
            for key, value in sorted(tags.items())
            if key.startswith(Tags.DATA_PREFIX) and key.endswith(".md5")
        }


# EC2 instance tags a deploy sets on the launch template and the user data reads (terraform/modules/serving-asg)
# "<model>/<version> <model>/<version>": every model version the color pins (format_/parse_model_versions); the
# user data's shell parser reads the same grammar (MODEL_VERSION_ENTRY_PATTERN), and the EKS serving Deployment
# carries the same value in its MODEL_VERSION_ANNOTATION.
MODEL_VERSION_INSTANCE_TAG: Final = "mlops:model-version"
MODEL_VERSION_ANNOTATION: Final = "mlops/model-version"
SERVING_ENV_INSTANCE_TAG: Final = "mlops:serving-env"  # "KEY=VALUE KEY=VALUE": non-secret MLOPS_* settings
INSTANCE_TAG_VALUE_MAX: Final = 256  # characters: EC2's limit on a tag value
# one entry of the model-version tag; POSIX ERE, so the user data's `[[ =~ ]]` matches exactly what Python does
MODEL_VERSION_ENTRY_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[1-9][0-9]*$"


class ModelVersionTagError(MlopsError, ValueError):
    """A model-version tag (or its parts) that does not follow the format; the message names the entry."""


def format_model_versions(pins: Mapping[str, str]) -> str:
    """The MODEL_VERSION_INSTANCE_TAG value pinning each model to a version, sorted by name: "a/3 b/12"."""
    value = " ".join(f"{name}/{version}" for name, version in sorted(pins.items()))
    bad = [entry for entry in value.split() if not re.match(MODEL_VERSION_ENTRY_PATTERN, entry)]
    if bad:
        raise ModelVersionTagError(
            f"cannot pin {', '.join(map(repr, bad))} in {MODEL_VERSION_INSTANCE_TAG}: expected NAME/VERSION with a "
            f"model name like {MODEL_NAME_PATTERN} and a version number from 1"
        )
    if len(value) > INSTANCE_TAG_VALUE_MAX:
        raise ModelVersionTagError(
            f"{MODEL_VERSION_INSTANCE_TAG} pinning {len(pins)} models is {len(value)} characters, over EC2's "
            f"{INSTANCE_TAG_VALUE_MAX} for a tag value: split the models across envs (serving-asg README)"
        )
    return value


def parse_model_versions(value: str) -> dict[str, str]:
    """Model name -> pinned version from a MODEL_VERSION_INSTANCE_TAG value ("" pins none); ModelVersionTagError
    naming the entry that is not NAME/VERSION or names a model twice."""
    pins: dict[str, str] = {}
    for entry in value.split():
        if not re.match(MODEL_VERSION_ENTRY_PATTERN, entry):
            raise ModelVersionTagError(
                f"{MODEL_VERSION_INSTANCE_TAG} {value!r}: entry {entry!r} is not NAME/VERSION (a version number from 1)"
            )
        name, version = entry.split("/")
        if name in pins:
            raise ModelVersionTagError(f"{MODEL_VERSION_INSTANCE_TAG} {value!r} pins {name!r} twice")
        pins[name] = version
    return pins


def pin_model_uris(default_uris: Sequence[str], pins: Mapping[str, str]) -> list[str]:
    """The model URIs one serving process loads (MLOPS_SERVE_MODEL_URI, comma-joined): each default URI (the env's
    models, `models:/NAME@ALIAS`), at the version `pins` names for NAME. Pins of models without a default are left
    out: the env does not serve them (the user data reports them, the deploy refuses them)."""
    refs = [ModelRef.parse(uri) for uri in default_uris]
    return [ModelRef(ref.name, version=pins[ref.name]).uri if ref.name in pins else ref.uri for ref in refs]


# ---- Kubernetes names on EKS --------------------------------------------------------------------------------
# The namespace and service accounts each workload runs as, defined once in contracts_eks.json beside this file:
# Terraform reads the same file to pin each IRSA role's trust (terraform/modules/platform, module "eks") and outputs
# what it made as `eks_workloads`; the deploy fills the serving ServiceAccount's role annotation from that output and
# refuses to render names the role does not trust (mlops.delivery.rollout.render_overlay).
EKS_NAMES_FILE: Final = Path(__file__).with_name("contracts_eks.json")
EKS_WORKLOADS_OUTPUT: Final = "eks_workloads"  # Terraform output of every env: workload -> EksWorkload
IRSA_ROLE_ANNOTATION: Final = "eks.amazonaws.com/role-arn"
# What the serving ServiceAccount carries in Git instead of a role ARN (services/serving/k8s/base): never a valid ARN,
# replaced by the deploy's render, which refuses to leave it in place.
IRSA_ROLE_PLACEHOLDER: Final = "set-at-deploy-from-terraform-output-eks_workloads-role_arn"


@functools.cache
def _eks_names() -> dict[str, Any]:
    names: dict[str, Any] = json.loads(EKS_NAMES_FILE.read_text())
    return names


def eks_workload_names() -> tuple[str, ...]:
    """The workloads with an IRSA role: serving, drift, retraining."""
    return tuple(_eks_names()["service_accounts"])


def eks_namespace(environment: str) -> str:
    """The Kubernetes namespace every workload of `environment` runs in (`mlops-<env>`)."""
    return str(_eks_names()["namespace"]).replace("{environment}", environment)


def eks_service_accounts(workload: str) -> tuple[str, ...]:
    """The service accounts `workload`'s IRSA role trusts (serving: one per color)."""
    accounts = _eks_names()["service_accounts"]
    if workload not in accounts:
        raise KeyError(f"no EKS workload {workload!r} in {EKS_NAMES_FILE.name}: expected one of {', '.join(accounts)}")
    return tuple(accounts[workload])


def irsa_subject(namespace: str, service_account: str) -> str:
    """The `sub` claim of a service account's token, which an IRSA role's trust condition lists."""
    return f"system:serviceaccount:{namespace}:{service_account}"


class EksWorkload(BaseModel):
    """One workload of an env's `eks_workloads` Terraform output: where it runs on EKS and the IRSA role it gets."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    namespace: str = Field(min_length=1)
    service_accounts: list[str] = Field(min_length=1, description="the service accounts the role's trust names")
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$", description="the IRSA role")

    @property
    def subjects(self) -> list[str]:
        return [irsa_subject(self.namespace, account) for account in self.service_accounts]


# ---- model references ----------------------------------------------------------------------------------------
class ModelUriError(MlopsError, ValueError):
    """A model URI that is malformed; the message says what was expected."""


_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@\s]+)(?:/(?P<version>[1-9]\d*)|@(?P<alias>[A-Za-z0-9_-]+))$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version, by number (`models:/NAME/3`) or by alias (`models:/NAME@champion`)."""

    name: str
    version: str | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, uri: str) -> ModelRef:
        match = _MODEL_URI.match(uri.strip())
        if not match:
            raise ModelUriError(f"{uri!r} is not a model URI: expected models:/NAME/VERSION or models:/NAME@ALIAS")
        return cls(match["name"], match["version"], match["alias"])

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}" if self.version else f"models:/{self.name}@{self.alias}"

    @property
    def follows_alias(self) -> bool:
        return self.alias is not None

    def __str__(self) -> str:
        return self.uri


# ---- S3 keys -------------------------------------------------------------------------------------------------
# Columns of a capture object besides the model's inputs (Parquet, written by serving, read by drift)
CAPTURE_META_COLUMNS: Final = ("request_id", "timestamp", "model_version")
CAPTURE_PREDICTION_COLUMN: Final = "prediction"
# classifiers only: JSON text of {class label: probability} per row, what label-free performance estimation reads
CAPTURE_PROBABILITIES_COLUMN: Final = "prediction_proba"


def capture_prefix(model: str, day: dt.date) -> str:
    return f"capture/{model}/date={day:%Y-%m-%d}/"


def capture_key(model: str, at: dt.datetime, unique: str) -> str:
    """One Parquet object of sampled requests and predictions (capture bucket)."""
    return f"{capture_prefix(model, at.date())}{at:%H%M%S}-{unique}.parquet"


def labels_prefix(model: str, day: dt.date) -> str:
    """Where the ground truth for captured requests lands, as Parquet with request_id and label (capture bucket)."""
    return f"labels/{model}/date={day:%Y-%m-%d}/"


def drift_events_prefix(model: str) -> str:
    return f"events/drift/{model}/"


def drift_event_key(model: str, stamp: str, event_id: str) -> str:
    return f"{drift_events_prefix(model)}{stamp}-{event_id}.json"


def consumed_events_prefix(model: str) -> str:
    return f"events/drift-consumed/{model}/"


def consumed_event_key(model: str, event_id: str) -> str:
    """The marker a retrain writes once it handled an event, with the outcome (data bucket)."""
    return f"{consumed_events_prefix(model)}{event_id}.json"


def drift_report_prefix(model: str, stamp: str, event_id: str) -> str:
    return f"reports/drift/{model}/{stamp}-{event_id}"


def retrain_alert_prefix(model: str) -> str:
    return f"events/alerts/retrain/{model}/"


def retrain_alert_key(model: str, at: dt.datetime, unique: str) -> str:
    return f"{retrain_alert_prefix(model)}{at:%Y%m%dT%H%M%SZ}-{unique}.json"


def training_prefix(model: str) -> str:
    """Everything a model's SageMaker training jobs read and write (artifact bucket; the IAM scope of
    terraform/modules/sagemaker-training)."""
    return f"sagemaker/{model}/"


def training_source_key(model: str, commit: str) -> str:
    """The project's source at `commit`, the training job's source channel (a .tar.gz)."""
    return f"{training_prefix(model)}source/{commit}.tar.gz"


def training_manifest_key(model: str, job: str) -> str:
    """The S3 manifest of the DVC objects of the exact data version, the training job's data channel."""
    return f"{training_prefix(model)}input/{job}.manifest"


def training_output_prefix(model: str) -> str:
    """Where SageMaker writes the training jobs' output: <prefix><job>/output/model.tar.gz."""
    return f"{training_prefix(model)}output/"


def promotion_audit_key(model: str, at: str, record_id: str) -> str:
    """The audit record of one alias move (data bucket); `at` is an ISO timestamp."""
    return f"audit/promotions/{model}/{at.replace(':', '')}-{record_id}.json"


def erasure_audit_key(model: str, at: str, record_id: str) -> str:
    """The audit record of one `mlops privacy erase` (artifact bucket); `at` is an ISO timestamp."""
    return f"audit/privacy/erasures/{model}/{at.replace(':', '')}-{record_id}.json"


def live_release_key(model: str, env: str) -> str:
    """The manifest an env runs, as applied by `mlops release deploy` (artifact bucket)."""
    return f"releases/{model}/{env}.yaml"


def live_evidence_key(model: str, env: str) -> str:
    """The evidence pack of the release an env runs, with the deploy's approval and record (artifact bucket;
    format: mlops.release.evidence)."""
    return f"releases/{model}/{env}.evidence.json"


def deploy_record_key(env: str, started_at: str, model: str, version: str) -> str:
    stamp = started_at.replace(":", "").replace("+0000", "Z")
    return f"deploys/{env}/{stamp}-{model}-v{version}.json"


def event_stamp(at: dt.datetime) -> str:
    """The sortable time prefix of event and report keys."""
    return at.strftime("%Y%m%dT%H%M%SZ")


# ---- drift events --------------------------------------------------------------------------------------------
class DriftEvent(BaseModel):
    """What `mlops drift run` writes on drift and the retraining service reads: one JSON object per event."""

    # built on first use, not at import: serving imports this module and never needs the model
    model_config = ConfigDict(extra="ignore", defer_build=True)

    event_id: str = Field(min_length=1)
    model_name: str = Field(min_length=1)
    model_version: str | None = None
    detected_at: str = Field(min_length=1, description="ISO 8601, UTC")
    dataset_drift: bool
    drift_share: float = 0.0
    drifted_columns: list[str] = Field(default_factory=list)
    performance_drift: bool = False  # measured on labels that arrived
    report_uri: str | None = None
    # a change in how features move together (PCA reconstruction error), even when no column drifts alone
    multivariate_drift: bool = False
    multivariate_score: float | None = None
    # performance estimated without labels (CBPE): a drop beyond the configured tolerance, and the estimates
    estimated_performance_drift: bool = False
    estimated_performance: dict[str, float] = Field(default_factory=dict)  # metric -> estimated value

    @property
    def asks_for_retrain(self) -> bool:
        return (
            self.dataset_drift or self.performance_drift or self.multivariate_drift or self.estimated_performance_drift
        )
