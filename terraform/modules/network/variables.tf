variable "name" {
  description = "Name of the VPC, used as the prefix of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,38}$", var.name))
    error_message = "name must be 1-39 letters, digits or '-', starting with a letter or digit."
  }
}

variable "cidr" {
  description = "IPv4 CIDR block of the VPC, /16 to /20 (private subnets are /prefix+4, public ones /prefix+8)."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && can(regex("^[0-9.]+/(1[6-9]|20)$", var.cidr))
    error_message = "cidr must be a valid IPv4 CIDR block with a prefix length from /16 to /20, e.g. 10.20.0.0/16."
  }
}

variable "azs" {
  description = "Availability zones to spread the subnets over (at least two, at most four)."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 4 && length(distinct(var.azs)) == length(var.azs)
    error_message = "azs must list two to four distinct availability zones."
  }
}

variable "enable_nat_gateway" {
  description = "Give private subnets a route to the internet through NAT gateways (needed to pull packages and images)."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, dev) instead of one per AZ (resilient, prod)."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "Interface VPC endpoint services to create in the private subnets, e.g. [\"ecr.api\", \"ecr.dkr\", \"logs\", \"sts\"]. The S3 gateway endpoint is always created."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "sts"]

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoints must be service short names such as ecr.api or logs."
  }
}

variable "logs_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the flow-log log group (its policy must allow CloudWatch Logs)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "flow_log_retention_days" {
  description = "Days VPC flow logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
