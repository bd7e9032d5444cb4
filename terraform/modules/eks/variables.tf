variable "name" {
  description = "Cluster name; also the prefix of its roles and security group."
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
  description = "KMS key for Kubernetes secrets envelope encryption."
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

variable "admin_principal_arns" {
  description = "IAM roles or users given cluster-admin (EKS access policy cluster-access-policy/AmazonEKSClusterAdminPolicy, cluster scope) through access entries. Nobody else is admin: the cluster creator gets no implicit rights."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/\\S+$", a))])
    error_message = "admin_principal_arns must be IAM role or user ARNs."
  }
}

variable "deploy_role_arns" {
  description = "The IAM roles the CI deploy assumes (modules/deploy-role): the EKS access policy cluster-access-policy/AmazonEKSEditPolicy in the workloads' namespaces only, and the Kubernetes group deploy_kubernetes_group. A list so that a role made in the same apply (ARN unknown at plan) still gives a known count."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.deploy_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/\\S+$", a))])
    error_message = "deploy_role_arns must be IAM role ARNs."
  }
}

variable "deploy_kubernetes_group" {
  description = "Kubernetes group of the deploy role's access entry: what the platform team binds to the custom resources the overlays carry (TargetGroupBinding, ScaledObject)."
  type        = string
  default     = "mlops-deployers"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.deploy_kubernetes_group)) && !startswith(var.deploy_kubernetes_group, "system")
    error_message = "deploy_kubernetes_group must be a lower-case name that does not start with 'system' (EKS refuses those)."
  }
}

variable "metrics_server_version" {
  description = "Version of the metrics-server EKS add-on; null takes the default for the cluster's Kubernetes version."
  type        = string
  default     = null
}

variable "target_group_arns" {
  description = "The ALB target groups (target type ip) the serving pods join, by color (modules/alb target_group_arns). The cluster role may register targets in exactly these."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.target_group_arns) : can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/", arn))])
    error_message = "target_group_arns must map colors to target group ARNs."
  }
}

variable "load_balancer_security_group_id" {
  description = "Security group of the ALB (modules/alb security_group_id): the only source allowed to the pods' serving_port. Required when target_group_arns is set."
  type        = string
  default     = null
}

variable "serving_port" {
  description = "The port the serving pods listen on (containerPort http in services/serving/k8s)."
  type        = number
  default     = 8080

  validation {
    condition     = var.serving_port >= 1 && var.serving_port <= 65535
    error_message = "serving_port must be a TCP port."
  }
}
