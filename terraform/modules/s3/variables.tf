variable "name_prefix" {
  description = "Prefix of every bucket name, e.g. mlops-dev; the purpose and the account ID are appended."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,28}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-30 lowercase letters, digits or '-', starting and ending with a letter or digit."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key used as the buckets' default encryption."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "buckets" {
  description = "Buckets to create, by purpose (data = DVC remote, artifacts = MLflow, capture = inference capture): days to keep noncurrent versions, optionally days after which current objects expire, and optionally days per data class (public, internal, personal) after which objects tagged mlops-data-class=<class> expire (their noncurrent versions a day later). Serving tags every capture object with the most restricted class it stores; sensitive data is never stored."
  type = map(object({
    noncurrent_version_days = number
    expiration_days         = optional(number)
    retention_by_data_class = optional(map(number), {})
  }))
  default = {
    data      = { noncurrent_version_days = 365 }
    artifacts = { noncurrent_version_days = 365 }
    capture = {
      noncurrent_version_days = 30
      expiration_days         = 400 # objects without a class tag (labels, captures from before the classes)
      retention_by_data_class = { public = 400, internal = 180, personal = 30 }
    }
  }

  validation {
    condition     = alltrue([for k, v in var.buckets : can(regex("^[a-z0-9-]{1,12}$", k)) && k != "logs"])
    error_message = "bucket keys must be 1-12 lowercase letters, digits or '-', and 'logs' is reserved for the log bucket."
  }

  validation {
    condition     = alltrue([for v in values(var.buckets) : v.noncurrent_version_days >= 1 && (v.expiration_days == null ? true : v.expiration_days >= 1)])
    error_message = "noncurrent_version_days and expiration_days must be at least 1."
  }

  validation {
    condition     = alltrue(flatten([for v in values(var.buckets) : [for k, d in v.retention_by_data_class : contains(["public", "internal", "personal"], k) && d >= 1 && floor(d) == d]]))
    error_message = "retention_by_data_class keys must be public, internal or personal (sensitive data is never stored), each a whole number of days of at least 1."
  }

  validation {
    # S3 applies the shortest of overlapping expirations: a class kept longer than the bucket-wide expiry would not be
    condition     = alltrue(flatten([for v in values(var.buckets) : [for d in values(v.retention_by_data_class) : v.expiration_days == null ? true : d <= v.expiration_days]]))
    error_message = "retention_by_data_class days must not exceed the bucket's expiration_days, which S3 would apply first."
  }
}

variable "log_retention_days" {
  description = "Days access logs are kept in the log bucket."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 1
    error_message = "log_retention_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets (dev only; keep false where data matters)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every bucket."
  type        = map(string)
  default     = {}
}

variable "eventbridge_notifications" {
  description = "Send the buckets' object events to EventBridge (true on AWS; false on moto, which does not report the setting back and would show drift on every plan)."
  type        = bool
  default     = true
}

variable "deny_insecure_transport" {
  description = "Bucket policies deny every request not made over TLS. Keep true; false only on the local stack, whose moto server speaks plain HTTP on loopback and enforces the deny."
  type        = bool
  default     = true
}

variable "object_lock_mode" {
  description = "Object lock default retention mode of the data and artifacts buckets: GOVERNANCE (s3:BypassGovernanceRetention can still delete) or COMPLIANCE (nobody can until the retention ends). null (default): no object lock. Once on, object lock cannot be turned off for a bucket."
  type        = string
  default     = null

  validation {
    condition     = var.object_lock_mode == null ? true : contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE, COMPLIANCE or null."
  }
}

variable "object_lock_retention_days" {
  description = "Days every new object version in the data and artifacts buckets is locked (1-36500); set together with object_lock_mode."
  type        = number
  default     = null

  validation {
    condition     = var.object_lock_retention_days == null ? true : (var.object_lock_retention_days >= 1 && var.object_lock_retention_days <= 36500 && floor(var.object_lock_retention_days) == var.object_lock_retention_days)
    error_message = "object_lock_retention_days must be a whole number of days from 1 to 36500, or null."
  }
}

variable "replication_destinations" {
  description = "Cross-region replication, by bucket purpose (data, artifacts): the destination bucket ARN (versioned, in another region; its owner must admit the replication role when it is another account) and the KMS key ARN there that encrypts the replicas (its policy must let the replication role encrypt). Empty (default): no replication and no replication role."
  type = map(object({
    destination_bucket_arn  = string
    destination_kms_key_arn = string
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.replication_destinations) : contains(["data", "artifacts"], k)])
    error_message = "replication_destinations keys must be data or artifacts (capture expires by design and is not replicated)."
  }

  validation {
    condition = alltrue([for v in values(var.replication_destinations) :
      can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", v.destination_bucket_arn)) &&
      can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", v.destination_kms_key_arn))
    ])
    error_message = "each replication destination needs a bucket ARN (arn:<partition>:s3:::<bucket>) and a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}
