# Identical in every env (a unit test keeps them so); the sizes differ in main.tf.
variable "environment" {
  description = "Environment name; must match the folder (dev, staging or prod)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the environment's VPC, /16 to /20."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(regex("^[0-9.]+/(1[6-9]|20)$", var.vpc_cidr))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block with a prefix length from /16 to /20, e.g. 10.20.0.0/16."
  }
}

variable "certificate_arn" {
  description = "ACM certificate ARN of the serving HTTPS listener; null (the default) uses the ISSUED certificate for serving_domain found in ACM. `mlops infra --local` passes moto's."
  type        = string
  default     = null
}

variable "serving_domain" {
  description = "Domain name of the serving certificate in ACM (set per env in terraform.tfvars: the example.com placeholders are yours to replace); its ISSUED certificate is the listener's unless certificate_arn is given."
  type        = string
  default     = null
}

variable "mlflow_tracking_uri" {
  description = "MLflow tracking URI of an existing server (an http(s) URL without credentials, or a SageMaker tracking server ARN); null uses the env's managed tracking server (managed_mlflow)."
  type        = string
  default     = null
}

variable "managed_mlflow" {
  description = "Create the env's SageMaker MLflow tracking server (true on AWS; false on moto, which has no MLflow tracking servers: `mlops infra --local` passes the local stack's MLflow as mlflow_tracking_uri)."
  type        = bool
  default     = true
}

variable "serving_min_size" {
  description = "Override of the environment's minimum serving instances (null keeps the env default)."
  type        = number
  default     = null
}

variable "serving_max_size" {
  description = "Override of the environment's maximum serving instances (null keeps the env default)."
  type        = number
  default     = null
}

variable "enable_eks" {
  description = "Create the EKS cluster (serving can run on the autoscaling group alone)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints; null keeps the environment default."
  type        = list(string)
  default     = null
}

variable "grant_autoscaling_service_role" {
  description = "Name the Auto Scaling service-linked role in the data key policy (it must exist in the account)."
  type        = bool
  default     = true
}

variable "kms_admin_role_arns" {
  description = "IAM roles that administer the env's KMS keys (never use them); include the role Terraform runs as. Empty: the account's IAM policies administer them."
  type        = list(string)
  default     = []
}

variable "alert_emails" {
  description = "E-mail addresses that receive alarms."
  type        = list(string)
  default     = []
}

variable "eks_public_access_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint; empty keeps it private."
  type        = list(string)
  default     = []
}

variable "alb_deletion_protection" {
  description = "Deletion protection of the serving load balancer: on everywhere; set false only to tear an environment down."
  type        = bool
  default     = true
}

variable "service_hostname" {
  description = "DNS name clients and `mlops deploy smoke` use for serving (the certificate's name, pointed at the load balancer); null uses the load balancer's own DNS name."
  type        = string
  default     = null

  validation {
    condition     = var.service_hostname == null ? true : can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", var.service_hostname))
    error_message = "service_hostname must be a DNS name such as serving.example.com (no scheme, no path)."
  }
}

variable "waf_acl_arn" {
  description = "WAFv2 web ACL for the load balancer; null for none."
  type        = string
  default     = null
}

variable "attach_aws_managed_policies" {
  description = "Attach the AWS managed policies the roles need (always true on AWS; false only on a moto server started without MOTO_IAM_LOAD_MANAGED_POLICIES=true, which has none)."
  type        = bool
  default     = true
}

variable "s3_eventbridge_notifications" {
  description = "Send bucket object events to EventBridge (true on AWS; false on moto, which does not report the setting back)."
  type        = bool
  default     = true
}

variable "jenkins_principal_arns" {
  description = "IAM principals (ARNs) that may assume the env's Jenkins roles (deploy, retraining); null: this account's role/mlops-jenkins. Set it when Jenkins runs in another account."
  type        = list(string)
  default     = null
}

variable "enable_audit_trail" {
  description = "Create the env's audit trail (CloudTrail, flow-log archive, CIS alarms). `mlops infra --local` passes false (moto cannot delete a trail by ARN)."
  type        = bool
  default     = true
}

variable "enable_guardduty" {
  description = "Turn GuardDuty on in the env's account and region (billed; terraform/modules/audit/README.md, Cost)."
  type        = bool
  default     = false
}

variable "enable_security_hub" {
  description = "Turn Security Hub on in the env's account and region (billed, needs AWS Config; terraform/modules/audit/README.md, Cost)."
  type        = bool
  default     = false
}

variable "package_version" {
  description = "Version of the EC2 serving package (mlops deploy package --version): the commit Jenkins builds and publishes (TF_VAR_package_version, set by `make plan`)."
  type        = string
  default     = "unpublished"
}
