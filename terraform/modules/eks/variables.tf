variable "name" {
  description = "Cluster name; also the prefix of its roles, security group and node group."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,38}$", var.name))
    error_message = "name must start with a letter and be at most 39 letters, digits or '-'."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane, e.g. 1.32."
  type        = string
  default     = "1.32"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.32."
  }
}

variable "vpc_id" {
  description = "VPC the cluster runs in."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of that VPC: the API endpoint accepts HTTPS from it."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid CIDR block."
  }
}

variable "subnet_ids" {
  description = "Private subnets (two AZs or more) for the control-plane ENIs and the nodes."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least two subnets in different AZs."
  }
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint. Empty (the default) keeps the endpoint private only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "public_access_cidrs must be valid CIDR blocks and must not be 0.0.0.0/0."
  }
}

variable "kms_key_arn" {
  description = "KMS key for Kubernetes secrets envelope encryption and the node volumes."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key encrypting the control-plane log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Days the control-plane logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value such as 30, 90, 365 or 731."
  }
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "node_disk_gib" {
  description = "Root volume size of each node, GiB."
  type        = number
  default     = 50

  validation {
    condition     = var.node_disk_gib >= 20 && var.node_disk_gib <= 1000
    error_message = "node_disk_gib must be between 20 and 1000."
  }
}

variable "node_min_size" {
  description = "Minimum number of nodes."
  type        = number
  default     = 2
}

variable "node_desired_size" {
  description = "Nodes at creation (later owned by the autoscaler)."
  type        = number
  default     = 2
}

variable "node_max_size" {
  description = "Maximum number of nodes."
  type        = number
  default     = 6
}

variable "workloads" {
  description = "IRSA roles to create, by workload name: the Kubernetes namespace and the service accounts in it allowed to assume the role (one or more, e.g. one per blue/green color), and its IAM policy JSON (see modules/access-policy)."
  type = map(object({
    namespace        = string
    service_accounts = list(string)
    policy_json      = string
  }))
  default = {}

  validation {
    condition = alltrue([
      for w in values(var.workloads) : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", w.namespace)) && length(w.service_accounts) > 0 && alltrue([
        for sa in w.service_accounts : can(regex("^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$", sa))
      ])
    ])
    error_message = "Each workload needs a Kubernetes namespace (DNS label) and at least one service account name (lower case letters, digits, '-' or '.')."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "attach_aws_managed_policies" {
  description = "Attach the AWS managed policies the roles need (always true on AWS; false only on a moto server started without MOTO_IAM_LOAD_MANAGED_POLICIES=true, which has none)."
  type        = bool
  default     = true
}
