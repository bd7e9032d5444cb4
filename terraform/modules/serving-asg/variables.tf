variable "name" {
  description = "Prefix of every resource name, e.g. mlops-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,30}$", var.name))
    error_message = "name must start with a letter and be at most 31 letters, digits or '-'."
  }
}

variable "region" {
  description = "AWS region the instances run in (written into their environment)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the instances."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the group spreads over (two AZs or more)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least two private subnets in different AZs."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer: the only source allowed to reach the serving port."
  type        = string
}

variable "egress_cidrs" {
  description = "Where instances may open HTTPS connections (AWS APIs through NAT, the MLflow registry)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.egress_cidrs : can(cidrhost(c, 0))])
    error_message = "egress_cidrs must be valid CIDR blocks."
  }
}

variable "target_group_arns" {
  description = "Target groups the instances register with (their health checks decide instance health)."
  type        = list(string)

  validation {
    condition     = length(var.target_group_arns) >= 1
    error_message = "target_group_arns must name at least one target group."
  }
}

variable "alb_request_count_label" {
  description = "Resource label for ALBRequestCountPerTarget: <alb arn suffix>/<target group arn suffix>."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type of the serving instances."
  type        = string
  default     = "c6i.large"
}

variable "ami_id" {
  description = "AMI of the instances; null takes the latest Amazon Linux 2023 from ami_ssm_parameter."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null ? true : can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "ami_ssm_parameter" {
  description = "Public SSM parameter holding the AMI ID when ami_id is null."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

variable "disk_gib" {
  description = "Root volume size, GiB."
  type        = number
  default     = 30

  validation {
    condition     = var.disk_gib >= 8 && var.disk_gib <= 1000
    error_message = "disk_gib must be between 8 and 1000."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the root volumes (its policy must let the Auto Scaling service-linked role use it)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "min_size" {
  description = "Minimum number of instances."
  type        = number
  default     = 2

  validation {
    condition     = var.min_size >= 0 && floor(var.min_size) == var.min_size
    error_message = "min_size must be a whole number, 0 or more."
  }
}

variable "max_size" {
  description = "Maximum number of instances (must be >= min_size)."
  type        = number
  default     = 6

  validation {
    condition     = var.max_size >= 1 && floor(var.max_size) == var.max_size
    error_message = "max_size must be a whole number, 1 or more."
  }
}

variable "desired_capacity" {
  description = "Instances at creation, between min_size and max_size (later moved by target tracking)."
  type        = number
  default     = 2
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation the group tracks, percent."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent > 0 && var.cpu_target_percent <= 100
    error_message = "cpu_target_percent must be in (0, 100]."
  }
}

variable "requests_per_target" {
  description = "ALB requests per target per minute the group tracks."
  type        = number
  default     = 1000

  validation {
    condition     = var.requests_per_target > 0
    error_message = "requests_per_target must be positive."
  }
}

variable "health_check_grace_seconds" {
  description = "Seconds after launch before health checks count (package install and model load)."
  type        = number
  default     = 300
}

variable "min_healthy_percentage" {
  description = "Share of the group that stays in service during an instance refresh, percent."
  type        = number
  default     = 90

  validation {
    condition     = var.min_healthy_percentage >= 0 && var.min_healthy_percentage <= 100
    error_message = "min_healthy_percentage must be between 0 and 100."
  }
}

variable "wait_for_capacity_timeout" {
  description = "How long Terraform waits for min_size healthy instances (\"0\" to not wait)."
  type        = string
  default     = "10m"
}

variable "package_bucket" {
  description = "Bucket the serving package is published to by `mlops deploy package` (the env's artifacts bucket)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.package_bucket))
    error_message = "package_bucket must be an S3 bucket name."
  }
}

variable "package_prefix" {
  description = "Key prefix of the serving packages in package_bucket: a version lives under <prefix>/<version>/ (mlops.delivery.package PACKAGE_PREFIX), and the instances may read this prefix only."
  type        = string
  default     = "packages/serving"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$", var.package_prefix)) && !strcontains(var.package_prefix, "//")
    error_message = "package_prefix must be a key prefix without leading or trailing '/', e.g. packages/serving."
  }
}

variable "package_version" {
  description = "Version of the serving package the instances install: the commit (image tag) the pipeline published with `mlops deploy package --version`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", var.package_version))
    error_message = "package_version must be a commit or tag: letters, digits, '.', '_' and '-', at most 128, starting with a letter or digit."
  }
}

variable "model_names" {
  description = "Every model of the env: one `mlops serve` process per instance serves them all, each at the version a deploy pinned in the instance tag mlops:model-version, else at models:/<name>@<model_alias>."
  type        = list(string)

  validation {
    condition     = length(var.model_names) >= 1 && alltrue([for name in var.model_names : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]*$", name))])
    error_message = "model_names must name at least one model, each a registered model name: letters, digits and _ . - (not first)."
  }
  validation {
    condition     = length(distinct(var.model_names)) == length(var.model_names)
    error_message = "model_names must not name a model twice."
  }
}

variable "model_alias" {
  description = "Registry alias a model is served at until a deploy pins one of its versions on the instances."
  type        = string
  default     = "champion"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.model_alias))
    error_message = "model_alias must be a registry alias: letters, digits, _ and -."
  }
}

variable "mlflow_tracking_uri" {
  description = "MLflow tracking URI: an http(s) URL (no credentials in it: they must not appear in user data), or a SageMaker MLflow tracking server's ARN (the sagemaker-mlflow plugin, in mlops-core, resolves it)."
  type        = string

  validation {
    condition     = can(regex("^(https?://[^@/]+(/.*)?|arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:mlflow-tracking-server/[A-Za-z0-9-]+)$", var.mlflow_tracking_uri))
    error_message = "mlflow_tracking_uri must be an http(s) URL without user:password@, or a SageMaker MLflow tracking server ARN."
  }
}

variable "port" {
  description = "Port `mlops serve` listens on."
  type        = number
  default     = 8080

  validation {
    condition     = var.port >= 1024 && var.port <= 65535
    error_message = "port must be between 1024 and 65535."
  }
}

variable "workers" {
  description = "Worker processes of `mlops serve` per instance."
  type        = number
  default     = 2
}

variable "settings_env" {
  description = "Non-secret MLOPS_* settings written to the service environment (e.g. bucket names). They travel in plain-text user data, so keys that name a secret (API_KEY, SECRET, PASSWORD, TOKEN, CREDENTIAL, PRIVATE_KEY, ACCESS_KEY) are refused."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.settings_env) : can(regex("^MLOPS_[A-Z0-9_]+$", k))])
    error_message = "settings_env keys must be MLOPS_* names (upper case letters, digits and '_')."
  }

  # User data is readable by anyone allowed ec2:DescribeLaunchTemplateVersions or DescribeInstanceAttribute and is
  # stored in the Terraform state, so a secret must never be in it: MLOPS_SERVE_API_KEYS in particular, which the
  # instances read from SSM at boot instead (api_keys_parameter_name). The same pattern is in
  # tests/unit/infra/test_hardening.py, which checks it refuses every secret setting of mlops.core.settings.
  validation {
    condition     = length([for k in keys(var.settings_env) : k if can(regex("(API_?KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY)", upper(k)))]) == 0
    error_message = "settings_env must not carry secrets, it is written into plain-text user data: ${join(", ", [for k in keys(var.settings_env) : k if can(regex("(API_?KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY)", upper(k)))])}. Put a secret in an SSM SecureString the instances read at boot, as the API keys are (api_keys_parameter_name)."
  }
}

variable "api_keys_parameter_name" {
  description = "SSM SecureString (encrypted with kms_key_arn) holding the serving API keys, one per line; created out of band so no key is in user data or Terraform state."
  type        = string
  default     = "/mlops/serving/api-keys"

  validation {
    condition     = can(regex("^/[A-Za-z0-9_.\\-/]+$", var.api_keys_parameter_name))
    error_message = "api_keys_parameter_name must be an SSM parameter path such as /mlops/serving/api-keys."
  }
}

variable "log_group_name" {
  description = "CloudWatch log group the instances ship serving logs to."
  type        = string
}

variable "policy_json" {
  description = "Least-privilege IAM policy of the instances (see modules/access-policy)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource and propagated to the instances."
  type        = map(string)
  default     = {}
}

variable "attach_aws_managed_policies" {
  description = "Attach the AWS managed policies the roles need (always true on AWS; false only on a moto server started without MOTO_IAM_LOAD_MANAGED_POLICIES=true, which has none)."
  type        = bool
  default     = true
}
