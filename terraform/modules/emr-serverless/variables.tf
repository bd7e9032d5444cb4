variable "name" {
  description = "Name of the environment's resources (e.g. mlops-dev): the application is <name>-drift, the job role <name>-drift-emr-job."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,49}$", var.name))
    error_message = "name must be 1-50 lowercase letters, digits or '-' (the role name <name>-drift-emr-job must fit IAM's 64 characters)."
  }
}

variable "release_label" {
  description = "EMR release of the application (emr-7.x: Spark 3.5 on Amazon Linux 2023)."
  type        = string
  default     = "emr-7.5.0"

  validation {
    condition     = can(regex("^emr-7\\.[0-9]+\\.[0-9]+$", var.release_label))
    error_message = "release_label must be an EMR 7 release like emr-7.5.0 (the job's packed environment is built for Amazon Linux 2023)."
  }
}

variable "architecture" {
  description = "CPU architecture of the workers; the packed Python environment must be built for the same (X86_64 or ARM64)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.architecture)
    error_message = "architecture must be X86_64 or ARM64."
  }
}

variable "max_cpu" {
  description = "Most vCPU the application holds at once, all jobs together (the cost ceiling), e.g. \"32 vCPU\"."
  type        = string
  default     = "32 vCPU"
}

variable "max_memory" {
  description = "Most memory the application holds at once, e.g. \"128 GB\"."
  type        = string
  default     = "128 GB"
}

variable "max_disk" {
  description = "Most disk the application holds at once, e.g. \"1000 GB\"."
  type        = string
  default     = "1000 GB"
}

variable "idle_timeout_minutes" {
  description = "Minutes without a job after which the application stops (it starts again on the next StartJobRun)."
  type        = number
  default     = 15

  validation {
    condition     = var.idle_timeout_minutes >= 1 && var.idle_timeout_minutes <= 10080
    error_message = "idle_timeout_minutes must be between 1 and 10080."
  }
}

variable "vpc_id" {
  description = "The env's VPC (the security group's)."
  type        = string
}

variable "subnet_ids" {
  description = "The env's private subnets the workers run in (they reach S3 through the VPC's endpoint or NAT)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one private subnet: the jobs run in the VPC, never without one."
  }
}

variable "capture_bucket_arn" {
  description = "Bucket of the model capture the job reads."
  type        = string
}

variable "capture_prefix" {
  description = "Key prefix of the capture in that bucket (mlops.core.contracts.capture_prefix), without a trailing slash."
  type        = string
  default     = "capture"
}

variable "data_bucket_arn" {
  description = "Bucket holding the jobs' folders: the profile a job reads and the report it writes."
  type        = string
}

variable "work_prefix" {
  description = "Key prefix of the jobs' folders in the data bucket (MLOPS_DRIFT_EMR_PREFIX), without a trailing slash."
  type        = string
  default     = "drift-emr"
}

variable "code_bucket_arn" {
  description = "Bucket the job's code is published to: the entry point and the packed Python environment."
  type        = string
}

variable "code_prefix" {
  description = "Key prefix of the job's code in that bucket, without a trailing slash."
  type        = string
  default     = "emr/drift"
}

variable "kms_key_arn" {
  description = "The env's CMK: the buckets' SSE-KMS key and the log group's."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "CMK of the log group when logs have their own key (its policy must admit CloudWatch Logs); null: kms_key_arn."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the job's CloudWatch Logs (driver and executor output)."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
