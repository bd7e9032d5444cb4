variable "name" {
  description = "Name of the environment's resources (e.g. mlops-dev); the role is named <name>-<purpose>, the name a pipeline stage assumes it by."
  type        = string
}

variable "purpose" {
  description = "What the role does for Jenkins, the last part of its name (e.g. retraining)."
  type        = string
}

variable "description" {
  description = "What the role is for."
  type        = string
}

variable "trusted_principal_arns" {
  description = "IAM principals (ARNs) that may assume the role: the Jenkins controller's or agents' role (modules/jenkins-trust validates them)."
  type        = list(string)
}

variable "policy_name" {
  description = "Name of the role's inline policy."
  type        = string
}

variable "policy_json" {
  description = "The role's inline policy document (JSON)."
  type        = string
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
