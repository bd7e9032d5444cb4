variable "name" {
  description = "Name of the environment's resources (e.g. mlops-dev): the roles are <name>-terraform-plan and <name>-terraform-apply, and the apply role writes only IAM roles, policies and instance profiles named <name>-* and S3 buckets named <name>-*."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,46}$", var.name))
    error_message = "name must be 1-47 lowercase letters, digits or '-' (the role names must fit IAM's 64 characters)."
  }
}

variable "trusted_principal_arns" {
  description = "IAM principals (ARN patterns allowed) that may assume the roles: the Jenkins controller's or agents' role, in this account or another."
  type        = list(string)

  validation {
    condition     = length(var.trusted_principal_arns) > 0 && alltrue([for a in var.trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", a))])
    error_message = "trusted_principal_arns must name at least one IAM role or user ARN (arn:<partition>:iam::<account>:role/<name>); \"*\" or an account root would let anyone in that account run Terraform."
  }
}

variable "state_bucket_arn" {
  description = "ARN of the remote-state bucket (terraform/bootstrap)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+$", var.state_bucket_arn))
    error_message = "state_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "state_key" {
  description = "Key of this environment's state object in the bucket (the S3 backend's `key`, e.g. envs/dev/terraform.tfstate); the roles read (apply: and write) only this object and lock only its items."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()'/-]+$", var.state_key)) && !strcontains(var.state_key, "*") && !startswith(var.state_key, "/")
    error_message = "state_key must be one object key without wildcards or a leading slash, e.g. envs/dev/terraform.tfstate."
  }
}

variable "state_kms_key_arn" {
  description = "ARN of the CMK that encrypts the state bucket (the state and its lock files); the roles use it through S3 only and can never administer it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.state_kms_key_arn))
    error_message = "state_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "attach_aws_managed_policies" {
  description = "Attach the AWS managed ReadOnlyAccess policy to the plan role (always true on AWS; false only on a moto server started without MOTO_IAM_LOAD_MANAGED_POLICIES=true, which has none)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the roles."
  type        = map(string)
  default     = {}
}
