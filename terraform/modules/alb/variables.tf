variable "name" {
  description = "Name of the load balancer (at most 24 characters: target group names append a variant)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,22}[a-zA-Z0-9]$", var.name))
    error_message = "name must be 2-24 letters, digits or '-', not starting or ending with '-'."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer and its targets."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC: the load balancer may reach the serving port only inside it."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid CIDR block."
  }
}

variable "subnet_ids" {
  description = "Subnets of the load balancer (public ones for an internet-facing ALB), two AZs or more."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least two subnets in different AZs."
  }
}

variable "internal" {
  description = "Internal (reachable only inside the VPC and peered networks) rather than internet-facing."
  type        = bool
  default     = true
}

variable "ingress_cidrs" {
  description = "Client CIDRs allowed to connect on 443 (and 80 for the redirect)."
  type        = list(string)

  validation {
    condition     = length(var.ingress_cidrs) > 0 && alltrue([for c in var.ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "ingress_cidrs must be a non-empty list of valid CIDR blocks."
  }
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:<partition>:acm:<region>:<account>:certificate/<id>)."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener; only TLS 1.2+ policies are accepted."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = can(regex("^ELBSecurityPolicy-(TLS13-1-[23]-|TLS-1-2-|FS-1-2-)", var.ssl_policy))
    error_message = "ssl_policy must be a TLS 1.2+ ELB policy, e.g. ELBSecurityPolicy-TLS13-1-2-2021-06."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer (keep true outside dev)."
  type        = bool
  default     = true
}

variable "idle_timeout_seconds" {
  description = "Idle connection timeout, seconds."
  type        = number
  default     = 60
}

variable "access_log_bucket" {
  description = "Bucket receiving access logs under alb/ (SSE-S3, with the ELB log delivery allowed)."
  type        = string
}

variable "target_type" {
  description = "instance (EC2 autoscaling group) or ip (EKS pods through a TargetGroupBinding)."
  type        = string
  default     = "instance"

  validation {
    condition     = contains(["instance", "ip"], var.target_type)
    error_message = "target_type must be instance or ip."
  }
}

variable "target_port" {
  description = "Port the serving targets listen on."
  type        = number
  default     = 8080
}

variable "health_check_path" {
  description = "Readiness path the target groups probe."
  type        = string
  default     = "/health/ready"
}

variable "target_groups" {
  description = "Target groups by variant with their share of traffic at create, e.g. {blue = {weight = 100}, green = {weight = 0}} (later weights belong to the deploy, see the listener's ignore_changes). Names are at most 8 characters."
  type = map(object({
    weight = number
  }))
  default = {
    blue  = { weight = 100 }
    green = { weight = 0 }
  }

  validation {
    condition     = length(var.target_groups) >= 1 && length(var.target_groups) <= 5 && alltrue([for k, v in var.target_groups : can(regex("^[a-z0-9]{1,8}$", k)) && v.weight >= 0 && v.weight <= 999])
    error_message = "target_groups must have 1-5 entries named with 1-8 lowercase letters or digits, each with a weight from 0 to 999."
  }

  validation {
    condition     = sum([for v in values(var.target_groups) : v.weight]) > 0
    error_message = "target_groups weights must not all be 0."
  }
}

variable "waf_acl_arn" {
  description = "WAFv2 web ACL to associate; null for none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
