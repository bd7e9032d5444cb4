variable "environment" {
  description = "Environment name: dev, staging or prod. Prefixes every resource (mlops-<environment>)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC, /16 to /20."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(regex("^[0-9.]+/(1[6-9]|20)$", var.vpc_cidr))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block with a prefix length from /16 to /20, e.g. 10.20.0.0/16."
  }
}

variable "azs" {
  description = "Availability zones to use; null takes the first az_count available ones of the region."
  type        = list(string)
  default     = null
}

variable "az_count" {
  description = "How many availability zones to use when azs is null (2-4)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (dev) instead of one per AZ."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints in the private subnets."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "sts"]
}

variable "log_retention_days" {
  description = "Retention of every log group and of the access logs, days."
  type        = number
  default     = 365
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a deleted KMS key is gone, days (7-30)."
  type        = number
  default     = 30
}

variable "grant_autoscaling_service_role" {
  description = "Let the Auto Scaling service-linked role use the data key (needed for CMK-encrypted EBS on autoscaling instances; the role must exist in the account)."
  type        = bool
  default     = true
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener; null looks up the ISSUED certificate for serving_domain in this account and region."
  type        = string
  default     = null
}

variable "serving_domain" {
  description = "Domain name of the serving certificate (its ACM domain name, e.g. serving.example.com); used to find the ISSUED certificate when certificate_arn is null."
  type        = string
  default     = null

  validation {
    condition     = var.serving_domain == null ? true : can(regex("^(\\*\\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", var.serving_domain))
    error_message = "serving_domain must be a DNS name such as serving.example.com (no scheme, no path)."
  }
}

variable "alb_internal" {
  description = "Internal load balancer (private subnets) rather than internet-facing."
  type        = bool
  default     = true
}

variable "alb_ingress_cidrs" {
  description = "Client CIDRs allowed to reach the load balancer; null means the VPC only."
  type        = list(string)
  default     = null
}

variable "alb_deletion_protection" {
  description = "Deletion protection of the load balancer."
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
  description = "WAFv2 web ACL to associate with the load balancer; null for none."
  type        = string
  default     = null
}

variable "serving_instance_type" {
  description = "Instance type of the serving autoscaling groups (blue and green)."
  type        = string
  default     = "c6i.large"
}

variable "serving_ami_id" {
  description = "AMI of the serving instances; null takes the latest Amazon Linux 2023."
  type        = string
  default     = null
}

variable "serving_min_size" {
  description = "Minimum serving instances per color (blue and green each run this many)."
  type        = number
}

variable "serving_max_size" {
  description = "Maximum serving instances per color."
  type        = number
}

variable "serving_desired_capacity" {
  description = "Serving instances per color at creation."
  type        = number
}

variable "serving_wait_for_capacity_timeout" {
  description = "How long Terraform waits for serving instances to be healthy."
  type        = string
  default     = "10m"
}

variable "package_version" {
  description = "Version of the serving package the EC2 instances install from the artifacts bucket (packages/serving/<version>/): the commit the pipeline publishes with `mlops deploy package --version` (its image tag). The default names no published package: an env passes the commit."
  type        = string
  default     = "unpublished"
}

variable "mlflow_tracking_uri" {
  description = "MLflow tracking URI the services use (an http(s) URL without credentials, or a SageMaker tracking server ARN); null uses the managed tracking server's (managed_mlflow). Given, it wins over the managed server."
  type        = string
  default     = null

  validation {
    condition     = var.mlflow_tracking_uri == null ? true : can(regex("^(https?://[^@/]+(/.*)?|arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:mlflow-tracking-server/[A-Za-z0-9-]+)$", var.mlflow_tracking_uri))
    error_message = "mlflow_tracking_uri must be an http(s) URL without user:password@ or a SageMaker MLflow tracking server ARN."
  }
}

variable "managed_mlflow" {
  description = "Create the env's SageMaker MLflow tracking server (modules/mlflow) and give the workloads access to it (true on AWS; false on moto, which has no MLflow tracking servers: the local stack's MLflow is passed as mlflow_tracking_uri)."
  type        = bool
  default     = true
}

variable "mlflow_tracking_server_size" {
  description = "Size of the managed MLflow tracking server: Small, Medium or Large."
  type        = string
  default     = "Small"

  validation {
    condition     = contains(["Small", "Medium", "Large"], var.mlflow_tracking_server_size)
    error_message = "mlflow_tracking_server_size must be Small, Medium or Large."
  }
}

variable "model_names" {
  description = "The env's models: every serving instance (or pod) serves all of them in one process, and each is watched for drift."
  type        = list(string)
  default     = ["demo-model"]

  validation {
    condition     = length(var.model_names) >= 1
    error_message = "model_names must name at least one model."
  }
}

variable "metrics_namespace" {
  description = "Custom CloudWatch namespace of the services' metrics."
  type        = string
  default     = "MLOps"
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alert topic."
  type        = list(string)
  default     = []
}

variable "enable_eks" {
  description = "Create the EKS cluster (Auto Mode), its access entries and IRSA roles."
  type        = bool
  default     = true
}

variable "eks_version" {
  description = "Kubernetes version of the EKS cluster."
  type        = string
  default     = "1.32"
}

variable "eks_public_access_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint; empty keeps it private."
  type        = list(string)
  default     = []
}

variable "retraining_service_runs" {
  description = "The retraining service (`mlops retrain serve`, services/retraining/k8s) runs in this env's cluster: its heartbeat alarm per model is on (missing data breaches). Set it once the Deployment is applied, or the alarm fires until then."
  type        = bool
  default     = false
}

variable "eks_admin_principal_arns" {
  description = "IAM roles or users that get cluster-admin on the EKS cluster through access entries; empty: the env's Terraform apply role (mlops-<env>-terraform-apply). Nobody else, the cluster's creator included."
  type        = list(string)
  default     = []
}

variable "serving_target" {
  description = "Where serving runs: asg (EC2 autoscaling groups, target groups of type instance) or eks (pods joined to target groups of type ip by a TargetGroupBinding; needs enable_eks)."
  type        = string
  default     = "asg"

  validation {
    condition     = contains(["asg", "eks"], var.serving_target)
    error_message = "serving_target must be asg or eks."
  }
}

variable "capture_hash_key_parameter" {
  description = "SSM SecureString parameter (name, e.g. /mlops/prod/capture/hash-key) holding the key serving hashes personal columns with (MLOPS_CAPTURE_HASH_KEY_PARAMETER); serving and retraining may read it. Create it out of band, like the API keys. null: no personal columns are captured (serving refuses to capture them without a key)."
  type        = string
  default     = null

  validation {
    condition     = var.capture_hash_key_parameter == null ? true : can(regex("^/[A-Za-z0-9_.\\-/]+$", var.capture_hash_key_parameter))
    error_message = "capture_hash_key_parameter must be an SSM parameter name starting with /."
  }
}

variable "tags" {
  description = "Tags added to every resource (Environment and Project are always added)."
  type        = map(string)
  default     = {}
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
  description = "IAM principals (ARNs, patterns allowed, this account or another) that may assume the env's Jenkins roles (deploy, retraining): the Jenkins controller's or agents' role. null: this account's role/mlops-jenkins."
  type        = list(string)
  default     = null
}

variable "ecr_repository_name" {
  description = "ECR repository of the serving image (MLOPS_ECR_REPOSITORY), created here (modules/ecr); the deploy role may read it."
  type        = string
  default     = "mlops-serve"
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete the serving image repository while it still holds images (dev only, for teardown)."
  type        = bool
  default     = false
}

variable "kms_admin_role_arns" {
  description = "IAM roles that administer the env's two KMS keys (never encrypt or decrypt with them); include the role Terraform runs as. Empty: administration is delegated to the IAM policies of the account."
  type        = list(string)
  default     = []
}

variable "enable_audit_trail" {
  description = "Create the env's audit trail (modules/audit: CloudTrail, flow-log archive, CIS alarms). false only on the local stack: moto's DeleteTrail ignores the trail ARN Terraform deletes by, so a destroyed env's trail would stay and break the next apply."
  type        = bool
  default     = true
}

variable "enable_guardduty" {
  description = "Turn GuardDuty on (with S3 protection) in the env's account and region: billed (modules/audit/README.md, Cost); one detector per account and region."
  type        = bool
  default     = false
}

variable "enable_security_hub" {
  description = "Turn Security Hub on with its default standards in the env's account and region: billed, needs AWS Config recording (modules/audit/README.md, Cost); one hub per account and region."
  type        = bool
  default     = false
}

variable "ops_ecr_repository_name" {
  description = "ECR repository of the ops image (services/retraining/Dockerfile), created here: the drift and retraining workloads and the SageMaker training jobs run it."
  type        = string
  default     = "mlops-ops"
}

variable "enable_sagemaker_training" {
  description = "The SageMaker training backend's execution role and security group (modules/sagemaker-training), and its settings in services_env."
  type        = bool
  default     = true
}

variable "manage_sagemaker_log_group" {
  description = "Create /aws/sagemaker/TrainingJobs (retention, the logs key). SageMaker's group is per account and region: false in every env of an account but one."
  type        = bool
  default     = true
}

variable "enable_drift_emr" {
  description = "Run large drift windows on EMR Serverless (modules/emr-serverless): the application, the job role, and the drift workload's right to submit."
  type        = bool
  default     = false
}
