variable "read" {
  description = "Bucket prefixes the workload reads: list of {bucket_arn, prefix}; prefix \"\" means the whole bucket."
  type = list(object({
    bucket_arn = string
    prefix     = string
  }))
  default = []

  validation {
    condition     = alltrue([for p in var.read : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", p.bucket_arn))])
    error_message = "read[*].bucket_arn must be S3 bucket ARNs (arn:<partition>:s3:::<bucket>)."
  }
}

variable "write" {
  description = "Bucket prefixes the workload writes: list of {bucket_arn, prefix}."
  type = list(object({
    bucket_arn = string
    prefix     = string
  }))
  default = []

  validation {
    condition     = alltrue([for p in var.write : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", p.bucket_arn))])
    error_message = "write[*].bucket_arn must be S3 bucket ARNs (arn:<partition>:s3:::<bucket>)."
  }
}

variable "delete" {
  description = "Keys (or key patterns) the workload deletes: list of {bucket_arn, prefix}; nothing by default."
  type = list(object({
    bucket_arn = string
    prefix     = string
  }))
  default = []

  validation {
    condition     = alltrue([for p in var.delete : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", p.bucket_arn)) && p.prefix != ""])
    error_message = "delete[*] must name an S3 bucket ARN and a non-empty prefix: a workload never deletes a whole bucket."
  }
}

variable "kms_key_arns" {
  description = "KMS keys the workload decrypts with (and generates data keys with, when it writes)."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the workload may put metrics into; null for none."
  type        = string
  default     = null
}

variable "mlflow_tracking_server_arn" {
  description = "SageMaker MLflow tracking server the workload calls (sagemaker-mlflow actions on that server only); null for none (a self-hosted MLflow needs no IAM)."
  type        = string
  default     = null

  validation {
    condition     = var.mlflow_tracking_server_arn == null ? true : can(regex("^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:mlflow-tracking-server/[A-Za-z0-9-]+$", var.mlflow_tracking_server_arn))
    error_message = "mlflow_tracking_server_arn must be a SageMaker MLflow tracking server ARN (arn:<partition>:sagemaker:<region>:<account>:mlflow-tracking-server/<name>), or null."
  }
}

variable "ssm_parameter_arns" {
  description = "SSM parameters the workload reads (ssm:GetParameter), e.g. the capture's hash key; their SecureString key must be one of kms_key_arns, used through SSM."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.ssm_parameter_arns : can(regex("^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/", arn))])
    error_message = "ssm_parameter_arns must be SSM parameter ARNs (arn:<partition>:ssm:<region>:<account>:parameter/<name>)."
  }
}

variable "mlflow_write" {
  description = "On the tracking server, also create experiments, runs and model versions, log, set tags and move aliases (retraining and promotion); false reads only (Get*, Search*, List*)."
  type        = bool
  default     = false
}
