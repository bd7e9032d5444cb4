variable "name" {
  description = "Name of the environment's resources (e.g. mlops-dev); the role is named <name>-deploy."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,56}$", var.name))
    error_message = "name must be 1-57 lowercase letters, digits or '-' (the role name <name>-deploy must fit IAM's 64 characters)."
  }
}

variable "trusted_principal_arns" {
  description = "IAM principals (ARN patterns allowed) that may assume the role: the Jenkins controller's or agents' role."
  type        = list(string)

  validation {
    condition     = length(var.trusted_principal_arns) > 0 && alltrue([for a in var.trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", a))])
    error_message = "trusted_principal_arns must name at least one IAM role or user ARN (arn:<partition>:iam::<account>:role/<name>); \"*\" or an account root would let anyone in the account deploy."
  }
}

variable "listener_arns" {
  description = "Listeners whose forward weights the deploy moves."
  type        = list(string)
}

variable "autoscaling_group_arns" {
  description = "Serving autoscaling groups the deploy updates and refreshes."
  type        = list(string)
}

variable "launch_template_arns" {
  description = "Serving launch templates the deploy adds versions to."
  type        = list(string)
}

variable "pass_role_arns" {
  description = "Instance roles the deploy may pass to EC2 (the serving roles, through the launch templates' instance profiles)."
  type        = list(string)
}

variable "ecr_repository_arn" {
  description = "ECR repository of the serving image, checked before a deploy."
  type        = string
}

variable "artifact_bucket_arn" {
  description = "Artifacts bucket that holds the deploy records and the live releases."
  type        = string
}

variable "record_prefixes" {
  description = "Key prefixes in the artifacts bucket the deploy writes and reads (deploy records, live releases)."
  type        = list(string)
}

variable "kms_key_arns" {
  description = "KMS keys of the artifacts bucket (SSE-KMS)."
  type        = list(string)
}

variable "mlflow_tracking_server_arn" {
  description = "SageMaker MLflow tracking server the deploy reads gate decisions from and moves aliases on; null for a self-hosted MLflow (not an IAM resource)."
  type        = string
  default     = null
}

variable "eks_cluster_name" {
  description = "The env's EKS cluster, whose endpoint the deploy reads for its kubeconfig; null without EKS. A name, not the cluster's ARN, so the cluster (whose access entry names this role) and the role do not depend on each other."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
