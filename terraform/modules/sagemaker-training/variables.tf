variable "name" {
  description = "Prefix of every name (the env's, e.g. mlops-prod)."
  type        = string
}

variable "job_name_prefix" {
  description = "Training job names start with \"<this>-\" (MLOPS_RETRAIN_SAGEMAKER_JOB_PREFIX): the role's trust and the submitter's policy are scoped to these jobs. Default: name."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC of the env (network module output vpc_id)."
  type        = string
}

variable "subnet_ids" {
  description = "The env's private subnets the jobs run in (network output private_subnet_ids; MLOPS_RETRAIN_SAGEMAKER_SUBNETS)."
  type        = list(string)
  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one private subnet."
  }
}

variable "s3_endpoint_id" {
  description = "The VPC's S3 gateway endpoint (network output s3_endpoint_id): the only egress of the jobs."
  type        = string
}

variable "data_bucket_arn" {
  description = "ARN of the data bucket, the DVC remote's."
  type        = string
}

variable "dvc_prefix" {
  description = "Folder of the data bucket the model projects' DVC remotes are under (s3://<data bucket>/<this>/<project>)."
  type        = string
  default     = "dvc"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.dvc_prefix))
    error_message = "dvc_prefix is a folder name without leading or trailing slashes, e.g. dvc."
  }
}

variable "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket (MLOPS_ARTIFACT_BUCKET): the jobs' source, manifests and output under sagemaker/."
  type        = string
}

variable "kms_key_arn" {
  description = "The env's KMS key: the buckets' objects, the job output, the ML volume and the log group."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "Key of the jobs' log group (its policy must allow CloudWatch Logs: the platform's logs key)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository of the training image (MLOPS_RETRAIN_SAGEMAKER_IMAGE)."
  type        = string
}

variable "manage_log_group" {
  description = "Create /aws/sagemaker/TrainingJobs (retention, the key). The group is per account and region: only one env per account may manage it."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the jobs' logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
