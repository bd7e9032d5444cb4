variable "name" {
  description = "Prefix of every name (trail, bucket, key alias, log group, roles, alarms), e.g. mlops-prod."
  type        = string

  validation {
    # lowercase: it starts the audit bucket's name (<name>-audit-<account id>, at most 63 characters)
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,29}$", var.name))
    error_message = "name must be 1-30 lowercase letters, digits or '-', starting with a letter or digit (it starts a bucket name)."
  }
}

variable "data_event_bucket_arns" {
  description = "Buckets whose object reads and writes the trail records as S3 data events, by purpose (data, artifacts, capture): who read a model, wrote training data or fetched captured requests."
  type        = map(string)

  validation {
    condition     = length(var.data_event_bucket_arns) > 0 && alltrue([for a in values(var.data_event_bucket_arns) : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", a))])
    error_message = "data_event_bucket_arns must map at least one purpose to an S3 bucket ARN (arn:<partition>:s3:::<bucket>, no key)."
  }
}

variable "alarm_actions" {
  description = "ARNs of the SNS topics the security alarms notify (the cloudwatch module's alert_topic_arn)."
  type        = list(string)

  validation {
    condition     = length(var.alarm_actions) > 0 && alltrue([for a in var.alarm_actions : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", a))])
    error_message = "alarm_actions must list at least one SNS topic ARN: a security alarm nobody hears is no control."
  }
}

variable "access_log_bucket" {
  description = "Name of the bucket receiving S3 server access logs of the audit bucket (the s3 module's log_bucket_name); logs land under s3/audit/."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be an S3 bucket name (3-63 lowercase letters, digits, '.' or '-')."
  }
}

variable "vpc_id" {
  description = "VPC whose flow logs (all traffic, Parquet) are archived in the audit bucket (AWSLogs/<account>/vpcflowlogs/)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-0123abcd...)."
  }
}

variable "kms_admin_role_arns" {
  description = "IAM role ARNs that administer the trail's key (never decrypt with it). Include the role Terraform runs as. Empty: administration is delegated to the IAM policies of this account."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.kms_admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "kms_admin_role_arns must be IAM role ARNs (arn:<partition>:iam::<account>:role/...)."
  }
}

variable "log_retention_days" {
  description = "Days the trail's CloudWatch Logs group keeps events (what the metric filters read and Logs Insights queries)."
  type        = number
  default     = 365

  validation {
    condition     = contains([90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value of at least 90 days (90, 180, 365, 731, ...)."
  }
}

variable "bucket_retention_days" {
  description = "Days trail log files and flow logs are kept in the audit bucket before they expire (at least 365; 2557 is seven years). They move to Glacier Flexible Retrieval after 90 days."
  type        = number
  default     = 2557

  validation {
    condition     = var.bucket_retention_days >= 365 && var.bucket_retention_days <= 36500 && floor(var.bucket_retention_days) == var.bucket_retention_days
    error_message = "bucket_retention_days must be a whole number of days from 365 to 36500."
  }
}

variable "object_lock_mode" {
  description = "Object lock default retention of the audit bucket: GOVERNANCE (s3:BypassGovernanceRetention can still delete) or COMPLIANCE (nobody can until the retention ends). null (default): no object lock. Once on, object lock cannot be turned off for a bucket."
  type        = string
  default     = null

  validation {
    condition     = var.object_lock_mode == null ? true : contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE, COMPLIANCE or null."
  }
}

variable "object_lock_retention_days" {
  description = "Days every new log file in the audit bucket is locked (1 to bucket_retention_days); set together with object_lock_mode."
  type        = number
  default     = null

  validation {
    condition     = var.object_lock_retention_days == null ? true : (var.object_lock_retention_days >= 1 && var.object_lock_retention_days <= 36500 && floor(var.object_lock_retention_days) == var.object_lock_retention_days)
    error_message = "object_lock_retention_days must be a whole number of days from 1 to 36500, or null."
  }
}

variable "enable_guardduty" {
  description = "Create a GuardDuty detector (with S3 protection) in this account and region. Off by default: it is billed by the events and logs it reads (README, Cost); one detector per account and region, so turn it on in one env per account."
  type        = bool
  default     = false
}

variable "enable_security_hub" {
  description = "Enable Security Hub with its default standards (AWS Foundational Security Best Practices, CIS AWS Foundations) in this account and region. Off by default: billed per check and finding (README, Cost); its checks need AWS Config recording; one hub per account and region."
  type        = bool
  default     = false
}

variable "s3_eventbridge_notifications" {
  description = "Send the audit bucket's object events to EventBridge, as the platform's buckets do. false only for the local stack, which does not report the setting back."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let a destroy delete the audit bucket with its log files (teardown of dev and the tests). Object lock, when on, still protects every locked version."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
