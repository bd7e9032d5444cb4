variable "name" {
  description = "Key alias without the alias/ prefix, e.g. mlops-dev-data."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,200}$", var.name)) && !startswith(var.name, "aws/")
    error_message = "name must be 1-200 characters of letters, digits, '/', '_' or '-' and must not start with 'aws/'."
  }
}

variable "description" {
  description = "What the key protects, shown in the KMS console."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Days a scheduled deletion waits before the key is gone (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "allow_cloudwatch_logs" {
  description = "Let CloudWatch Logs of this account and region encrypt log groups with the key."
  type        = bool
  default     = false
}

variable "service_principals" {
  description = "AWS service principals (e.g. cloudwatch.amazonaws.com, events.amazonaws.com) that may decrypt and generate data keys on behalf of this account, e.g. to publish to an encrypted SNS topic."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.service_principals : can(regex("^[a-z0-9.-]+\\.amazonaws\\.com$", p))])
    error_message = "service_principals must be service principal names ending in .amazonaws.com."
  }
}

variable "user_role_arns" {
  description = "IAM role ARNs allowed to use the key directly (encrypt, decrypt, generate data keys) and to grant it to AWS resources (e.g. the Auto Scaling service-linked role for encrypted EBS); never to administer it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.user_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "user_role_arns must be IAM role ARNs (arn:<partition>:iam::<account>:role/...)."
  }
}

variable "admin_role_arns" {
  description = "IAM role ARNs that administer the key (describe, enable/disable, rotation, tags, key policy, deletion; never encrypt or decrypt). Include the role Terraform runs as, or it cannot read or change the key. Empty: administration is delegated to the IAM policies of this account."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "admin_role_arns must be IAM role ARNs (arn:<partition>:iam::<account>:role/...)."
  }
}

variable "iam_use_via_services" {
  description = "Services (e.g. s3, ssm) through which IAM policies of this account may grant use of the key (kms:ViaService <service>.<region>.amazonaws.com, kms:CallerAccount this account): how roles that cannot be named in the key policy use it. Empty: only the principals named here may use the key."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.iam_use_via_services : can(regex("^[a-z0-9-]+$", s))])
    error_message = "iam_use_via_services must be service endpoint prefixes such as s3, ssm or ec2."
  }
}

variable "user_role_arn_patterns" {
  description = "ARN patterns (aws:PrincipalArn, wildcards allowed) of roles in this account that may use the key directly although they cannot be named, because they are created after the key (e.g. the EKS cluster role); their IAM policies must grant the use too."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.user_role_arn_patterns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+", a))])
    error_message = "user_role_arn_patterns must be IAM role ARN patterns (arn:<partition>:iam::<account>:role/<name, * allowed>)."
  }
}

variable "tags" {
  description = "Tags added to the key."
  type        = map(string)
  default     = {}
}
