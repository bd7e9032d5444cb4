variable "name" {
  description = "Prefix of alarm, topic and dashboard names, e.g. mlops-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,60}$", var.name))
    error_message = "name must be 1-61 letters, digits, '_' or '-'."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the log groups and the SNS topic (its policy must allow CloudWatch Logs and CloudWatch alarms)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "log_group_names" {
  description = "Log groups to create (serving, drift, retraining, ...)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.log_group_names : can(regex("^[a-zA-Z0-9_/.#-]{1,512}$", n))])
    error_message = "log_group_names must be 1-512 characters of letters, digits, '_', '/', '.', '#' or '-'."
  }
}

variable "log_retention_days" {
  description = "Days the log groups keep events."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value such as 30, 90, 365 or 731."
  }
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alert topic (each must confirm)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be e-mail addresses."
  }
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the serving load balancer (dimension LoadBalancer)."
  type        = string
}

variable "target_group_arn_suffixes" {
  description = "ARN suffix (dimension TargetGroup) of each serving target group by color; each gets its own alarms."
  type        = map(string)
}

variable "error_rate_threshold" {
  description = "5xx share of requests (0-1) that raises the alarm."
  type        = number
  default     = 0.01

  validation {
    condition     = var.error_rate_threshold > 0 && var.error_rate_threshold < 1
    error_message = "error_rate_threshold must be between 0 and 1."
  }
}

variable "latency_p99_threshold_seconds" {
  description = "p99 target response time, seconds, that raises the alarm."
  type        = number
  default     = 0.5

  validation {
    condition     = var.latency_p99_threshold_seconds > 0
    error_message = "latency_p99_threshold_seconds must be positive."
  }
}

variable "min_healthy_hosts" {
  description = "Alarm when fewer healthy targets than this."
  type        = number
  default     = 2

  validation {
    condition     = var.min_healthy_hosts >= 1
    error_message = "min_healthy_hosts must be at least 1."
  }
}

variable "metrics_namespace" {
  description = "Custom CloudWatch namespace serving, drift and retraining publish to (MLOPS_METRICS_NAMESPACE)."
  type        = string
  default     = "MLOps"
}

variable "model_names" {
  description = "Models with drift and retrain-failure alarms and a dashboard row each."
  type        = list(string)
  default     = []
}

variable "retrained_models" {
  description = "Models a running `mlops retrain serve` looks after: each gets an alarm when its RetrainServiceHeartbeat stops (missing data is breaching). Leave empty where no retraining service runs."
  type        = list(string)
  default     = []
}

variable "retrain_heartbeat_period_seconds" {
  description = "Period of the heartbeat alarm, seconds: well above the service's poll interval (MLOPS_RETRAIN_POLL_SECONDS, 30 s by default), so a slow poll does not alarm."
  type        = number
  default     = 900

  validation {
    condition     = contains([300, 900, 3600], var.retrain_heartbeat_period_seconds)
    error_message = "retrain_heartbeat_period_seconds must be one of 300, 900, 3600."
  }
}

variable "drift_share_threshold" {
  description = "Share of drifted features (0-1) that raises the drift alarm."
  type        = number
  default     = 0.3

  validation {
    condition     = var.drift_share_threshold > 0 && var.drift_share_threshold <= 1
    error_message = "drift_share_threshold must be in (0, 1]."
  }
}

variable "drift_period_seconds" {
  description = "Period of the drift alarm, seconds: at least the interval of the scheduled drift job, since a period without a DriftShare sample raises the alarm."
  type        = number
  default     = 3600

  validation {
    condition     = contains([60, 300, 900, 3600, 21600, 86400], var.drift_period_seconds)
    error_message = "drift_period_seconds must be one of 60, 300, 900, 3600, 21600, 86400."
  }
}

variable "autoscaling_groups" {
  description = "Serving autoscaling groups by key (e.g. color): name and min_size. Each gets an alarm on in-service instances below min_size (none when min_size is 0) and one on failed EC2 status checks of its instances."
  type = map(object({
    name     = string
    min_size = number
  }))
  default = {}

  validation {
    condition     = alltrue([for k, g in var.autoscaling_groups : can(regex("^[a-z0-9-]{1,20}$", k)) && g.min_size >= 0])
    error_message = "autoscaling_groups keys must be 1-20 lowercase letters, digits or '-', and min_size at least 0."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
