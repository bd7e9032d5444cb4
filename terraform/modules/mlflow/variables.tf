variable "name" {
  description = "Name of the tracking server (e.g. mlops-dev); part of its ARN, which is the tracking URI."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.name))
    error_message = "name must be 1-63 letters, digits or '-', starting and ending with a letter or digit."
  }
}

variable "artifact_bucket_arn" {
  description = "ARN of the bucket that holds the MLflow artifacts (the env's artifacts bucket)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.artifact_bucket_arn))
    error_message = "artifact_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "artifact_prefix" {
  description = "Key prefix of the artifact store in that bucket, without slashes at either end: the store is s3://<bucket>/<prefix>, and the server's role reaches only <prefix>/."
  type        = string
  default     = "mlflow"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.artifact_prefix))
    error_message = "artifact_prefix must be a non-empty S3 key prefix without a leading or trailing '/', e.g. mlflow."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key the artifacts bucket is encrypted with (the env's data key); the server uses it through S3 only."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "size" {
  description = "Size of the tracking server: Small (up to about 25 users), Medium (50) or Large (100)."
  type        = string
  default     = "Small"

  validation {
    condition     = contains(["Small", "Medium", "Large"], var.size)
    error_message = "size must be Small, Medium or Large."
  }
}

variable "mlflow_version" {
  description = "MLflow version of the server (one SageMaker offers, e.g. 2.16.2); null takes SageMaker's default. Keep it compatible with the mlflow client the services pin."
  type        = string
  default     = null

  validation {
    condition     = var.mlflow_version == null ? true : can(regex("^[0-9]+(\\.[0-9]+)+$", var.mlflow_version))
    error_message = "mlflow_version must be a version number such as 2.16.2, or null."
  }
}

variable "weekly_maintenance_window_start" {
  description = "Start of the weekly maintenance window, UTC, as DDD:HH:MM (e.g. TUE:03:30, as in the API reference); null lets SageMaker choose."
  type        = string
  default     = null

  validation {
    condition     = var.weekly_maintenance_window_start == null ? true : can(regex("^(?i)(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.weekly_maintenance_window_start))
    error_message = "weekly_maintenance_window_start must look like TUE:03:30 (day, then 24-hour UTC time), or be null."
  }
}

variable "tags" {
  description = "Tags for the tracking server and its role."
  type        = map(string)
  default     = {}
}
