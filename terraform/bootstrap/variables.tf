variable "region" {
  description = "AWS region of the state bucket and lock table."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "name_prefix" {
  description = "Prefix of the state bucket (<prefix>-state-<account>), its log bucket and the lock table (<prefix>-locks)."
  type        = string
  default     = "mlops-tf"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,28}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-30 lowercase letters, digits or '-'."
  }
}

variable "force_destroy" {
  description = "Allow destroying non-empty buckets (only for throw-away accounts and the local stack)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Deletion protection of the lock table."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "s3_eventbridge_notifications" {
  description = "Send bucket object events to EventBridge (true on AWS; false on moto, which does not report the setting back)."
  type        = bool
  default     = true
}

variable "deny_insecure_transport" {
  description = "Deny non-TLS requests to the state bucket. Keep true; false only on the local stack (plain HTTP on loopback)."
  type        = bool
  default     = true
}
