"""The scale path: when data outgrows one machine, the retrain (clone, `dvc pull`, `dvc repro`, register, gate,
promote: the train step with everything that needs its output) runs as a Kubernetes Job on EKS or as a SageMaker
training job, in the serving image, with the same `mlops retrain run` command. These functions render the spec;
`mlops retrain run --backend kubernetes|sagemaker` prints it for `kubectl apply -f -` or
`aws sagemaker create-training-job --cli-input-json`. Submitting is left to those tools (nothing here can reach
a real cluster or SageMaker; the rendered Job is schema-validated in the tests).
"""

from __future__ import annotations

import re
from typing import Any

_DNS = re.compile(r"[^a-z0-9-]+")


def _job_name(model: str, run_id: str) -> str:
    return _DNS.sub("-", f"retrain-{model}-{run_id}".lower())[:63].strip("-")


def _command(model: str) -> list[str]:
    return ["mlops", "retrain", "run", "--model", model, "--trigger", "scaled"]


def kubernetes_job(model: str, run_id: str, image: str, namespace: str, service_account: str, cpu: str, memory: str):
    """A Job: one pod, no retries by Kubernetes (the retrain retries transient errors itself), hardened pod."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": _job_name(model, run_id), "namespace": namespace, "labels": {"app": "mlops-retrain"}},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 6 * 3600,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": {"app": "mlops-retrain", "model": _DNS.sub("-", model.lower())}},
                "spec": {
                    "serviceAccountName": service_account,  # IRSA role: S3 data + artifacts, KMS, MLflow
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": True,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "retrain",
                            "image": image,
                            "imagePullPolicy": "Always",
                            "command": _command(model),
                            "env": [
                                {"name": "MLOPS_RETRAIN_CONFIG", "value": "/etc/mlops/retrain.yaml"},
                                {"name": "MLOPS_STATE_DIR", "value": "/scratch/mlops"},
                                {"name": "HOME", "value": "/scratch"},  # git and dvc write here
                            ],
                            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/mlops", "readOnly": True},
                                {"name": "scratch", "mountPath": "/scratch"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "mlops-retrain-config"}},
                        {"name": "scratch", "emptyDir": {}},
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
