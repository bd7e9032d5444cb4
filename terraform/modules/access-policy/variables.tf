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
