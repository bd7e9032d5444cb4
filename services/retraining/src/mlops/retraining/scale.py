"""The scale path: when data outgrows one machine, the retrain (clone, `dvc pull`, `dvc repro`, register, gate,
promote: the train step with everything that needs its output) runs as a Kubernetes Job on EKS or as a SageMaker
training job, in an image with this part installed (on EKS the `mlops-ops` image the retraining service runs in,
services/retraining/k8s), with the same `mlops retrain run` command. These functions render the spec;
`mlops retrain run --backend kubernetes|sagemaker` prints it for `kubectl apply -f -` or
`aws sagemaker create-training-job --cli-input-json`. Submitting is left to those tools (nothing here can reach
a real cluster or SageMaker; the rendered Job is schema-validated in the tests).

On EKS the Job runs where the retraining service runs: namespace `mlops-<env>`, service account `mlops-retrain`
(the names the IRSA role of retraining trusts: mlops.core.contracts), and it reads the two ConfigMaps the
service's overlay creates: the retraining config (`mlops-retrain-config`, key `retrain.yaml`) and the non-secret
settings (`mlops-retrain`). tests/integration/test_ops_manifests.py checks both sides against each other.
"""

from __future__ import annotations

import re
from typing import Any, Final

_DNS = re.compile(r"[^a-z0-9-]+")

# what the retraining overlay (services/retraining/k8s/base) creates and the Job reads, by name
CONFIG_MAP: Final = "mlops-retrain-config"  # the retraining config file ...
CONFIG_KEY: Final = "retrain.yaml"
CONFIG_DIR: Final = "/etc/mlops"  # ... mounted here
CONFIG_PATH: Final = f"{CONFIG_DIR}/{CONFIG_KEY}"
SETTINGS_CONFIG_MAP: Final = "mlops-retrain"  # the non-secret MLOPS_* settings (buckets, MLflow, ...)
POD_TMP: Final = "/tmp"  # noqa: S108 - the pod's own emptyDir, not the host's /tmp
APP_LABEL: Final = "mlops-retrain"  # app.kubernetes.io/name: the overlay's NetworkPolicy selects it


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


def sagemaker_training_job(model: str, run_id: str, image: str, role_arn: str, instance_type: str, kms_key: str | None):
    """A CreateTrainingJob request running the same command in the same image on a bigger instance."""
    request: dict[str, Any] = {
        "TrainingJobName": _job_name(model, run_id),
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": _command(model),
        },
        "RoleArn": role_arn,
        "OutputDataConfig": {"S3OutputPath": f"s3://mlops-artifacts/sagemaker/{model}/"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 6 * 3600},
        "Environment": {"MLOPS_RETRAIN_CONFIG": "/opt/ml/code/retrain.yaml", "MLOPS_STATE_DIR": "/opt/ml/output/mlops"},
        "EnableInterContainerTrafficEncryption": True,
    }
    if kms_key:
        request["OutputDataConfig"]["KmsKeyId"] = kms_key
        request["ResourceConfig"]["VolumeKmsKeyId"] = kms_key
    return request
