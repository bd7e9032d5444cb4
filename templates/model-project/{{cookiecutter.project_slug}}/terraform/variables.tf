variable "region" {
  description = "AWS region of the platform."
  type        = string
  default     = "{{ cookiecutter.aws_region }}"
}

variable "environment" {
  description = "Platform environment: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "data_bucket_arn" {
  description = "ARN of the platform's data bucket (DVC remote, drift events); this model owns dvc/{{ cookiecutter.project_slug }}/ in it."
  type        = string
}

variable "artifact_bucket_arn" {
  description = "ARN of the platform's MLflow artifact bucket."
  type        = string
}

variable "capture_bucket_arn" {
  description = "ARN of the platform's inference capture bucket; this model writes capture/{{ cookiecutter.project_slug }}/ in it."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the platform's KMS key that encrypts those buckets."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the platform's services publish into."
  type        = string
  default     = "MLOps"
}

variable "alert_topic_arn" {
  description = "SNS topic (from the platform's cloudwatch module) that this model's alarms notify."
  type        = string
}
{%- if cookiecutter.serving_target == "eks" %}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider (IRSA)."
  type        = string
}

variable "oidc_provider_url" {
  description = "URL of the EKS cluster's OIDC issuer, without https:// (IRSA condition keys)."
  type        = string
}
{%- endif %}
