"""The Job of the k8s training backend (`mlops retrain run --backend k8s`) and the outcome its pod hands back; the
submitting and watching are in mlops.retraining.k8s.

The Job's pod runs the same retrain as a local run (`mlops retrain run --backend local`: clone, `dvc pull`,
`dvc repro`, register, gate, promote) in the `mlops-ops` image, where the retraining service runs: namespace
`mlops-<env>`, service account `mlops-retrain` (the names the IRSA role of retraining trusts: mlops.core.contracts),
reading the two ConfigMaps the service's overlay creates (the retraining config `mlops-retrain-config`, key
`retrain.yaml`, and the non-secret settings `mlops-retrain`; tests/integration/test_ops_manifests.py checks both
sides against each other). So the registry, the gate and the promotion happen in the cluster, and what comes back
is the pod's outcome: the retrain writes its outcome JSON (`outcome_message`) to the file MLOPS_RETRAIN_OUTCOME_FILE
names, which is the container's termination message; a pod that dies before writing it leaves the tail of its log
there instead (`FallbackToLogsOnError`), which becomes the failure's reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mlops.core.errors import MlopsError
from mlops.retraining.outcome import Outcome

# what the retraining overlay (services/retraining/k8s/base) creates and the Job reads, by name
CONFIG_MAP: Final = "mlops-retrain-config"  # the retraining config file ...
CONFIG_KEY: Final = "retrain.yaml"
CONFIG_DIR: Final = "/etc/mlops"  # ... mounted here
CONFIG_PATH: Final = f"{CONFIG_DIR}/{CONFIG_KEY}"
SETTINGS_CONFIG_MAP: Final = "mlops-retrain"  # the non-secret MLOPS_* settings (buckets, MLflow, ...)
POD_TMP: Final = "/tmp"  # noqa: S108 - the pod's own emptyDir, not the host's /tmp
APP_LABEL: Final = "mlops-retrain"  # app.kubernetes.io/name: the overlay's NetworkPolicy selects it
CONTAINER: Final = "retrain"
SUBMITTED_BY_ANNOTATION: Final = "mlops/submitted-by"

# the outcome of the retrain in the pod: the retrain command writes it to the file this variable names, which is
# the container's termination message (the kubelet keeps at most 4096 bytes of it)
OUTCOME_FILE_ENV: Final = "MLOPS_RETRAIN_OUTCOME_FILE"
TERMINATION_MESSAGE_PATH: Final = "/dev/termination-log"
TERMINATION_MESSAGE_MAX_BYTES: Final = 4096

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?$")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_TOLERATION_KEYS = {"key", "operator", "value", "effect"}
_TOLERATION_OPERATORS = {"Exists", "Equal"}
_TOLERATION_EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}


@dataclass(frozen=True)
class K8sOptions:
    """Where and how the Job runs. `node_selector` picks the nodes (on EKS Auto Mode a node pool:
    {"karpenter.sh/nodepool": "general-purpose"}); `tolerations` lets it onto tainted ones, e.g. a GPU pool:
    ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},). `timeout_seconds` bounds the Job
    (activeDeadlineSeconds) and the wait for it."""

    image: str
    namespace: str
    service_account: str
    cpu: str = "2"
    memory: str = "8Gi"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: int = 6 * 3600
    kube_context: str | None = None
    tolerations: tuple[Mapping[str, str], ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if not self.image.strip() or any(c.isspace() for c in self.image):
            problems.append(f"image {self.image!r} is not an image reference")
        if not _DNS_LABEL.match(self.namespace):
            problems.append(f"namespace {self.namespace!r} is not a DNS label (lower case, digits, '-', 63 at most)")
        if not _DNS_SUBDOMAIN.match(self.service_account):
            problems.append(f"service account {self.service_account!r} is not a DNS subdomain name")
        for name in ("cpu", "memory"):
            value = getattr(self, name)
            if not _QUANTITY.match(value):
                problems.append(f"{name} {value!r} is not a Kubernetes quantity (e.g. '2', '500m', '8Gi')")
        if isinstance(self.timeout_seconds, bool) or not isinstance(self.timeout_seconds, int):
            problems.append(f"timeout_seconds {self.timeout_seconds!r} is not a whole number of seconds")
        elif self.timeout_seconds < 1:
            problems.append(f"timeout_seconds {self.timeout_seconds} is not at least 1")
        for key, value in self.node_selector.items():
            if not _label_key_ok(key) or not isinstance(value, str) or not _LABEL_VALUE.match(value):
                problems.append(f"node selector {key!r}: {value!r} is not a Kubernetes label key and value")
        for toleration in self.tolerations:
            problems += _toleration_problems(toleration)
        if problems:
            raise MlopsError("k8s backend: " + "; ".join(problems))
        # a frozen copy: the caller's dict changing later must not change the Job
        object.__setattr__(self, "node_selector", dict(self.node_selector))
        object.__setattr__(self, "tolerations", tuple(dict(t) for t in self.tolerations))


def _label_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return bool(_LABEL_NAME.match(name)) and (not prefix or bool(_DNS_SUBDOMAIN.match(prefix)))


def _toleration_problems(toleration: Mapping[str, str]) -> list[str]:
    unknown = set(toleration) - _TOLERATION_KEYS
    operator, effect = toleration.get("operator", "Equal"), toleration.get("effect")
    problems = [f"toleration {dict(toleration)}: unknown field(s) {sorted(unknown)}"] if unknown else []
    if operator not in _TOLERATION_OPERATORS:
        problems.append(f"toleration {dict(toleration)}: operator must be one of {sorted(_TOLERATION_OPERATORS)}")
    if effect is not None and effect not in _TOLERATION_EFFECTS:
        problems.append(f"toleration {dict(toleration)}: effect must be one of {sorted(_TOLERATION_EFFECTS)}")
    if operator == "Exists" and toleration.get("value"):
        problems.append(f"toleration {dict(toleration)}: operator Exists takes no value")
    if "key" in toleration and not _label_key_ok(toleration["key"]):
        problems.append(f"toleration {dict(toleration)}: key is not a Kubernetes label key")
    return problems


# ---- the Job ---------------------------------------------------------------------------------------------------


def job_name(model: str, run_id: str) -> str:
    """`retrain-<model>-<run id>`, a DNS label: the model part is cut so the run id always survives."""
    run = _NOT_DNS.sub("-", run_id.lower()).strip("-")
    room = 63 - len("retrain--") - len(run)
    part = _NOT_DNS.sub("-", model.lower())[:room].strip("-")
    return f"retrain-{part}-{run}"


def retrain_command(model: str, trigger: str, release_env: str | None = None) -> list[str]:
    """What the pod runs: the local retrain, in the cluster."""
    command = ["mlops", "retrain", "run", "--model", model, "--trigger", trigger, "--backend", "local"]
    return command + (["--release-env", release_env] if release_env else [])


def render_job(
    model: str,
    trigger: str,
    options: K8sOptions,
    run_id: str,
    *,
    release_env: str | None = None,
    submitted_by: str | None = None,
) -> dict[str, Any]:
    """A Job: one pod, no retries by Kubernetes (the retrain retries transient errors itself), deleted a day after
    it finished, hardened like the retraining Deployment (non-root, read-only root filesystem, scratch and /tmp on
    emptyDirs), guaranteed QoS (requests = limits), and kept off nodes being scaled down while it runs."""
    labels = {"app.kubernetes.io/name": APP_LABEL, "app.kubernetes.io/component": "retrain-job"}
    annotations = {SUBMITTED_BY_ANNOTATION: submitted_by} if submitted_by else {}
    pod: dict[str, Any] = {
        "serviceAccountName": options.service_account,  # IRSA role: S3 data + artifacts, KMS, metrics
        "restartPolicy": "Never",
        # IRSA's token is projected by the EKS pod identity webhook; no Kubernetes API token needed
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(model, trigger, options, release_env)],
        "volumes": [
            {"name": "config", "configMap": {"name": CONFIG_MAP, "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}]}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
        ],
    }
    if options.node_selector:
        pod["nodeSelector"] = dict(options.node_selector)
    if options.tolerations:
        pod["tolerations"] = [dict(t) for t in options.tolerations]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(model, run_id),
            "namespace": options.namespace,
            "labels": labels,
            **({"annotations": annotations} if annotations else {}),
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": options.timeout_seconds,
            "ttlSecondsAfterFinished": 86400,  # the pod (its log, its termination message) stays a day
            "template": {
                "metadata": {
                    "labels": {**labels, "model": _NOT_DNS.sub("-", model.lower())[:63].strip("-")},
                    "annotations": {
                        # a retrain can run for hours: neither the cluster autoscaler nor Karpenter (EKS Auto Mode)
                        # may take its node away to consolidate
                        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
                        "karpenter.sh/do-not-disrupt": "true",
                    },
                },
                "spec": pod,
            },
        },
    }


def _container(model: str, trigger: str, options: K8sOptions, release_env: str | None) -> dict[str, Any]:
    return {
        "name": CONTAINER,
        "image": options.image,
        "imagePullPolicy": "Always",
        "command": retrain_command(model, trigger, release_env),
        "envFrom": [{"configMapRef": {"name": SETTINGS_CONFIG_MAP}}],
        "env": [
            {"name": "MLOPS_RETRAIN_CONFIG", "value": CONFIG_PATH},
            {"name": OUTCOME_FILE_ENV, "value": TERMINATION_MESSAGE_PATH},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_SERVICE_ACCOUNT", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "MLOPS_ACTOR", "value": "system:serviceaccount:$(POD_NAMESPACE):$(POD_SERVICE_ACCOUNT)"},
            {"name": "MLOPS_STATE_DIR", "value": "/scratch/mlops"},
            {"name": "HOME", "value": "/scratch"},  # git and dvc write here
            {"name": "DVC_SITE_CACHE_DIR", "value": "/scratch/dvc-site-cache"},
            {"name": "TMPDIR", "value": POD_TMP},
        ],
        "resources": {
            "requests": {"cpu": options.cpu, "memory": options.memory},
            "limits": {"cpu": options.cpu, "memory": options.memory},
        },
        # the outcome JSON the retrain writes; a pod that dies before that leaves its log's tail instead
        "terminationMessagePath": TERMINATION_MESSAGE_PATH,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "tmp", "mountPath": POD_TMP},
        ],
    }


# ---- the outcome the pod hands back ----------------------------------------------------------------------------


def outcome_message(outcome: Outcome) -> str:
    """The outcome as the pod hands it back (the JSON `mlops retrain run` prints), cut to fit a termination
    message: the reasons are shortened, the last ones first, never the status."""
    body = {**outcome.as_dict(), "reasons": list(outcome.reasons), "attempts": outcome.attempts}
    text = json.dumps(body)
    while len(text.encode()) > TERMINATION_MESSAGE_MAX_BYTES and body["reasons"]:
        last = body["reasons"][-1]
        over = len(text.encode()) - TERMINATION_MESSAGE_MAX_BYTES
        body["reasons"][-1] = last[: max(0, len(last) - over - 8)] + " [cut]"
        if len(body["reasons"][-1]) <= len(" [cut]"):
            body["reasons"].pop()
        text = json.dumps(body)
    return text


def outcome_from_message(message: str | None, model: str, trigger: str) -> Outcome | None:
    """The outcome the pod wrote, or None when the message is not one (a log tail, or nothing)."""
    try:
        body = json.loads(message or "")
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("status") not in ("promoted", "rejected", "failed", "collapsed"):
        return None
    reasons = body.get("reasons") or []
    return Outcome(
        model,
        trigger,
        body["status"],
        version=_text(body.get("version")),
        champion=_text(body.get("champion")),
        reasons=[str(r) for r in reasons] if isinstance(reasons, list) else [str(reasons)],
        attempts=int(body.get("attempts") or 0),
        release=_text(body.get("release")),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
