"""Superseded: `mlops retrain run --backend k8s|sagemaker` submits now (mlops.retraining.k8s renders and submits
the Job, mlops.retraining.sagemaker the training job). What is left here is the Job render that
tests/integration/test_eks_names.py, test_ops_manifests.py and tests/unit/delivery/test_bind_workloads.py still
call, with the overlay's names taken from mlops.retraining.k8s; it goes once they call k8s.render_job.
"""

from __future__ import annotations

import re

# what the retraining overlay (services/retraining/k8s/base) creates and the Job reads, by name: defined once there
from mlops.retraining.k8s import (
    APP_LABEL,
    CONFIG_DIR,
    CONFIG_KEY,
    CONFIG_MAP,
    CONFIG_PATH,
    POD_TMP,
    SETTINGS_CONFIG_MAP,
)

__all__ = ["APP_LABEL", "CONFIG_KEY", "CONFIG_MAP", "CONFIG_PATH", "SETTINGS_CONFIG_MAP", "kubernetes_job"]

_DNS = re.compile(r"[^a-z0-9-]+")


def _job_name(model: str, run_id: str) -> str:
    return _DNS.sub("-", f"retrain-{model}-{run_id}".lower())[:63].strip("-")


def _command(model: str) -> list[str]:
    return ["mlops", "retrain", "run", "--model", model, "--trigger", "scaled"]


def kubernetes_job(model: str, run_id: str, image: str, namespace: str, service_account: str, cpu: str, memory: str):
    """A Job: one pod, no retries by Kubernetes (the retrain retries transient errors itself), hardened pod (the
    retraining Deployment's settings: non-root, read-only root filesystem, scratch and /tmp on emptyDirs)."""
    labels = {"app.kubernetes.io/name": APP_LABEL, "app.kubernetes.io/component": "retrain-job"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": _job_name(model, run_id), "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 6 * 3600,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": {**labels, "model": _DNS.sub("-", model.lower())[:63].strip("-")}},
                "spec": {
                    "serviceAccountName": service_account,  # IRSA role: S3 data + artifacts, KMS, metrics
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
                    "containers": [
                        {
                            "name": "retrain",
                            "image": image,
                            "imagePullPolicy": "Always",
                            "command": _command(model),
                            "envFrom": [{"configMapRef": {"name": SETTINGS_CONFIG_MAP}}],
                            "env": [
                                {"name": "MLOPS_RETRAIN_CONFIG", "value": CONFIG_PATH},
                                {
                                    "name": "POD_NAMESPACE",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                                },
                                {
                                    "name": "POD_SERVICE_ACCOUNT",
                                    "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}},
                                },
                                {
                                    "name": "MLOPS_ACTOR",
                                    "value": "system:serviceaccount:$(POD_NAMESPACE):$(POD_SERVICE_ACCOUNT)",
                                },
                                {"name": "MLOPS_STATE_DIR", "value": "/scratch/mlops"},
                                {"name": "HOME", "value": "/scratch"},  # git and dvc write here
                                {"name": "DVC_SITE_CACHE_DIR", "value": "/scratch/dvc-site-cache"},
                                {"name": "TMPDIR", "value": POD_TMP},
                            ],
                            "resources": {
                                "requests": {"cpu": cpu, "memory": memory},
                                "limits": {"cpu": cpu, "memory": memory},
                            },
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
                    ],
                    "volumes": [
                        {
                            "name": "config",
                            "configMap": {"name": CONFIG_MAP, "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}]},
                        },
                        {"name": "scratch", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
                    ],
                },
            },
        },
    }
