variable "region" {
  description = "AWS region of the state bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "name_prefix" {
  description = "Prefix of the state bucket (<prefix>-state-<account>) and its log bucket (<prefix>-logs-<account>)."
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

variable "environments" {
  description = "Environments whose Terraform roles (mlops-<env>-terraform-plan, mlops-<env>-terraform-apply) this account holds; with one account per environment, name only that one."
  type        = list(string)
  default     = ["dev", "staging", "prod"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : contains(["dev", "staging", "prod"], e)])
    error_message = "environments must name one or more of dev, staging, prod (the folders under terraform/envs)."
  }
}

variable "jenkins_principal_arns" {
  description = "IAM roles (ARN patterns allowed) of the Jenkins controller and agents, the only principals that may assume the Terraform roles; null means this account's role/mlops-jenkins. A Jenkins in another account: give its role's ARN."
  type        = list(string)
  default     = null

  validation {
    condition     = var.jenkins_principal_arns == null ? true : try(length(var.jenkins_principal_arns) > 0 && alltrue([for a in var.jenkins_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))]), false)
    error_message = "jenkins_principal_arns must name at least one IAM role ARN (arn:<partition>:iam::<account>:role/<name>); \"*\" or an account root would let anyone in that account run Terraform."
  }
}

variable "attach_aws_managed_policies" {
  description = "Attach the AWS managed ReadOnlyAccess policy to the plan roles (always true on AWS; false only on a moto server started without MOTO_IAM_LOAD_MANAGED_POLICIES=true, which has none)."
  type        = bool
  default     = true
}
