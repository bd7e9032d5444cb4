variable "trusted_principal_arns" {
  description = "IAM principals (ARN patterns allowed) that may assume the role: the Jenkins controller's or agents' role, in this account or another."
  type        = list(string)

  validation {
    condition     = length(var.trusted_principal_arns) > 0 && alltrue([for a in var.trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", a))])
    error_message = "trusted_principal_arns must name at least one IAM role or user ARN (arn:<partition>:iam::<account>:role/<name>); \"*\" or an account root would let anyone in that account assume the role."
  }
}
