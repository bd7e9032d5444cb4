# The whole platform for one environment, composed from the single-concern modules. envs/<env> call this with
# their sizes, so the three environments differ only in numbers and switches, never in structure.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}
# the first az_count zones by name (a, b, c, ...): an explicit allowlist, so a new AZ never moves subnets
data "aws_availability_zones" "available" {
  state = "available"
  filter {
    name   = "zone-name"
    values = [for letter in ["a", "b", "c", "d"] : "${data.aws_region.current.name}${letter}"]
  }
}

# The HTTPS listener's certificate: the one given, or else the newest ISSUED certificate in ACM for
# serving_domain (so an env on AWS needs no ARN in its variables; `mlops infra --local` passes moto's).
data "aws_acm_certificate" "serving" {
  count       = var.certificate_arn == null ? 1 : 0
  domain      = var.serving_domain
  statuses    = ["ISSUED"]
  most_recent = true

  lifecycle {
    precondition {
      condition     = var.serving_domain != null
      error_message = "platform: set serving_domain (the serving certificate's domain, looked up in ACM) or certificate_arn."
    }
  }
}

locals {
  name    = "mlops-${var.environment}"
  account = data.aws_caller_identity.current.account_id
  azs     = var.azs != null ? var.azs : slice(data.aws_availability_zones.available.names, 0, var.az_count)
  tags    = merge(var.tags, { Environment = var.environment, Project = "r5-mlops", ManagedBy = "terraform" })
  # encrypted EBS volumes of autoscaling groups (serving and EKS nodes) are created by this service-linked role
  autoscaling_role = "arn:${data.aws_partition.current.partition}:iam::${local.account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
  log_groups = {
    serving    = "/mlops/${var.environment}/serving"
    drift      = "/mlops/${var.environment}/drift"
    retraining = "/mlops/${var.environment}/retraining"
  }
}

module "kms_data" {
  source                  = "../kms"
  name                    = "${local.name}-data"
  description             = "r5-mlops ${var.environment}: S3 data, model artifacts, capture, EBS volumes, EKS secrets"
  deletion_window_in_days = var.kms_deletion_window_days
  admin_role_arns         = var.kms_admin_role_arns
  user_role_arns          = var.grant_autoscaling_service_role ? [local.autoscaling_role] : []
  # the workload roles' identity policies grant the key; they take effect through S3 (buckets) and SSM (the API
  # keys SecureString) only
  iam_use_via_services = ["s3", "ssm"]
  # the EKS cluster role encrypts secrets itself and is created after the key: matched by its name prefix
  # (modules/eks: "<name, 24 chars>-cluster-")
  # and the SageMaker training role encrypts its jobs' volumes and output with it directly (modules/sagemaker-training)
  user_role_arn_patterns = concat(
    var.enable_eks ? ["arn:${data.aws_partition.current.partition}:iam::${local.account}:role/${substr(local.name, 0, 24)}-cluster-*"] : [],
    var.enable_sagemaker_training ? ["arn:${data.aws_partition.current.partition}:iam::${local.account}:role/${local.name}-sagemaker-training"] : [],
  )
  tags = local.tags
}

# Used only by AWS services (CloudWatch Logs, CloudWatch alarms publishing to the encrypted topic): no IAM
# delegation, nobody else can use it.
module "kms_logs" {
  source                  = "../kms"
  name                    = "${local.name}-logs"
  description             = "r5-mlops ${var.environment}: CloudWatch log groups and the alert topic"
  deletion_window_in_days = var.kms_deletion_window_days
  admin_role_arns         = var.kms_admin_role_arns
  allow_cloudwatch_logs   = true
  service_principals      = ["cloudwatch.amazonaws.com"]
  tags                    = local.tags
}

module "s3" {
  source             = "../s3"
  name_prefix        = local.name
  kms_key_arn        = module.kms_data.key_arn
  force_destroy      = var.force_destroy_buckets
  log_retention_days = var.log_retention_days
  tags               = local.tags

  eventbridge_notifications = var.s3_eventbridge_notifications
}

# ---- the serving image and the tracking server ------------------------------------------------------------
module "ecr" {
  source       = "../ecr"
  name         = var.ecr_repository_name
  kms_key_arn  = module.kms_data.key_arn
  force_delete = var.ecr_force_delete
  tags         = local.tags
}

# The ops image (services/retraining/Dockerfile): the drift CronJob, the retraining service, the k8s retrain Job and
# the SageMaker training jobs all run it
module "ecr_ops" {
  source       = "../ecr"
  name         = var.ops_ecr_repository_name
  kms_key_arn  = module.kms_data.key_arn
  force_delete = var.ecr_force_delete
  tags         = local.tags
}

# SageMaker's managed MLflow, its artifact store in the artifacts bucket's mlflow/ prefix (the prefix the workloads
# already read and write). Off only where it cannot exist: moto has no MLflow tracking servers, so
# `mlops infra --local` turns it off and passes the local stack's MLflow URI instead.
module "mlflow" {
  source              = "../mlflow"
  count               = var.managed_mlflow ? 1 : 0
  name                = local.name
  artifact_bucket_arn = module.s3.bucket_arns["artifacts"]
  artifact_prefix     = "mlflow"
  kms_key_arn         = module.kms_data.key_arn
  size                = var.mlflow_tracking_server_size
  tags                = local.tags
}

locals {
  # an explicit URI wins (an existing server); otherwise the managed server's, whose ARN is its tracking URI
  # (clients need the sagemaker-mlflow plugin). Neither: the mlflow_tracking_uri output refuses the plan.
  mlflow_tracking_uri        = var.mlflow_tracking_uri != null ? var.mlflow_tracking_uri : (var.managed_mlflow ? module.mlflow[0].tracking_uri : null)
  mlflow_tracking_server_arn = var.managed_mlflow ? module.mlflow[0].tracking_server_arn : null
  # never null for the serving groups, so that the one error without a URI is the mlflow_tracking_uri output's
  # (it names the fix); the .invalid name (RFC 2606) cannot resolve, and that precondition refuses the plan anyway
  serving_mlflow_tracking_uri = coalesce(local.mlflow_tracking_uri, "http://mlflow-tracking-uri-missing.invalid")
}

module "network" {
  source                  = "../network"
  name                    = local.name
  cidr                    = var.vpc_cidr
  azs                     = local.azs
  single_nat_gateway      = var.single_nat_gateway
  interface_endpoints     = var.interface_endpoints
  logs_kms_key_arn        = module.kms_logs.key_arn
  flow_log_retention_days = var.log_retention_days
  tags                    = local.tags
}

# ---- least-privilege policies, one per workload ----------------------------------------------------------
locals {
  buckets = module.s3.bucket_arns
  access = {
    serving = {
      # the model artifacts (the EC2 instances' package, packages/serving/, is granted by serving-asg: EKS runs the image)
      read = [
        { bucket_arn = local.buckets["artifacts"], prefix = "mlflow/" },
      ]
      write  = [{ bucket_arn = local.buckets["capture"], prefix = "capture/" }]
      delete = []
    }
    # the key layouts are mlops.core.contracts' (capture_key, drift_event_key, retrain_alert_key, ...)
    drift = {
      read = [
        { bucket_arn = local.buckets["capture"], prefix = "capture/" },
        { bucket_arn = local.buckets["capture"], prefix = "labels/" },
        { bucket_arn = local.buckets["data"], prefix = "" },
        # the reference profile: a managed MLflow hands clients s3:// artifact URIs to read themselves
        { bucket_arn = local.buckets["artifacts"], prefix = "mlflow/" },
      ]
      write  = [{ bucket_arn = local.buckets["data"], prefix = "events/drift/" }, { bucket_arn = local.buckets["data"], prefix = "reports/drift/" }]
      delete = []
    }
    retraining = {
      read = [{ bucket_arn = local.buckets["data"], prefix = "" }, { bucket_arn = local.buckets["artifacts"], prefix = "mlflow/" }]
      write = [
        { bucket_arn = local.buckets["artifacts"], prefix = "mlflow/" },
        # a consumed drift event's marker (else every poll retrains again), a failed retrain's alert, the audit
        # record of each alias move and its intent marker
        { bucket_arn = local.buckets["data"], prefix = "events/drift-consumed/" },
        { bucket_arn = local.buckets["data"], prefix = "events/alerts/retrain/" },
        { bucket_arn = local.buckets["data"], prefix = "audit/promotions/" },
      ]
      # the intent marker (audit/promotions/<model>/pending.json) is removed once the alias move is recorded
      delete = [{ bucket_arn = local.buckets["data"], prefix = "audit/promotions/*/pending.json" }]
    }
  }
}

module "access" {
  source            = "../access-policy"
  for_each          = local.access
  read              = each.value.read
  write             = each.value.write
  delete            = each.value.delete
  kms_key_arns      = [module.kms_data.key_arn]
  metrics_namespace = var.metrics_namespace
  # the managed tracking server, when there is one (a self-hosted MLflow is not an IAM resource): retraining logs
  # runs, registers model versions and moves aliases; serving and drift only read
  mlflow_tracking_server_arn = local.mlflow_tracking_server_arn
  mlflow_write               = each.key == "retraining"
  # serving hashes personal columns with it, retraining profiles them the same way (mlops.core.data_classes)
  ssm_parameter_arns = var.capture_hash_key_parameter != null && contains(["serving", "retraining"], each.key) ? [
    "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter${var.capture_hash_key_parameter}"
  ] : []
}

# ---- beyond one machine: training on SageMaker, large drift windows on EMR Serverless -------------------
# `mlops retrain run --backend sagemaker` (or `backend: sagemaker` in the retraining config) runs the pipeline's
# stages as a training job in the env's private subnets under this role
module "sagemaker_training" {
  source = "../sagemaker-training"
  count  = var.enable_sagemaker_training ? 1 : 0
  # local.name is the job name prefix too (MLOPS_RETRAIN_SAGEMAKER_JOB_PREFIX)
  name                 = local.name
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.private_subnet_ids
  s3_endpoint_id       = module.network.s3_endpoint_id
  data_bucket_arn      = module.s3.bucket_arns["data"]
  artifacts_bucket_arn = module.s3.bucket_arns["artifacts"]
  kms_key_arn          = module.kms_data.key_arn
  logs_kms_key_arn     = module.kms_logs.key_arn
  ecr_repository_arn   = module.ecr_ops.repository_arn
  manage_log_group     = var.manage_sagemaker_log_group
  log_retention_days   = var.log_retention_days
  tags                 = local.tags
}

# `mlops drift run --engine auto|emr-serverless` hands windows of MLOPS_DRIFT_EMR_MIN_ROWS rows or more to it
module "emr_serverless" {
  source             = "../emr-serverless"
  count              = var.enable_drift_emr ? 1 : 0
  name               = local.name
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  capture_bucket_arn = module.s3.bucket_arns["capture"]
  data_bucket_arn    = module.s3.bucket_arns["data"]
  code_bucket_arn    = module.s3.bucket_arns["artifacts"]
  kms_key_arn        = module.kms_data.key_arn
  logs_kms_key_arn   = module.kms_logs.key_arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

# What each workload may do: its access policy, plus submitting (and passing the role of) the jobs it hands out:
# retraining its training jobs, drift its EMR job runs. Nothing else changes.
data "aws_iam_policy_document" "workload" {
  for_each = local.access
  source_policy_documents = concat(
    [module.access[each.key].json],
    each.key == "retraining" && var.enable_sagemaker_training ? [module.sagemaker_training[0].submitter_policy_json] : [],
    each.key == "drift" && var.enable_drift_emr ? [module.emr_serverless[0].submitter_policy_json] : [],
  )
}

# ---- serving, blue/green --------------------------------------------------------------------------------
# Two identical serving groups, each behind its own target group. Blue takes all traffic at create; from then on
# `mlops deploy canary` puts each new version on the idle color and moves the listener weights (the alb and
# serving-asg modules leave those to it). Both colors run the env's sizes: the idle one is the instant rollback
# target, and the canary does not scale it up before sending it traffic.
locals {
  colors = ["blue", "green"]
}

module "alb" {
  source              = "../alb"
  name                = local.name
  vpc_id              = module.network.vpc_id
  vpc_cidr            = module.network.vpc_cidr
  subnet_ids          = var.alb_internal ? module.network.private_subnet_ids : module.network.public_subnet_ids
  internal            = var.alb_internal
  ingress_cidrs       = var.alb_ingress_cidrs != null ? var.alb_ingress_cidrs : [var.vpc_cidr]
  certificate_arn     = var.certificate_arn != null ? var.certificate_arn : one(data.aws_acm_certificate.serving[*].arn)
  deletion_protection = var.alb_deletion_protection
  access_log_bucket   = module.s3.log_bucket_name
  target_groups       = { for color in local.colors : color => { weight = color == "blue" ? 100 : 0 } }
  # EKS pods join their color's target group by IP (TargetGroupBinding); EC2 instances by instance ID
  target_type = var.serving_target == "eks" ? "ip" : "instance"
  waf_acl_arn = var.waf_acl_arn
  tags        = local.tags
}

module "serving" {
  source                  = "../serving-asg"
  for_each                = var.serving_target == "asg" ? toset(local.colors) : toset([]) # EKS: pods instead
  name                    = "${local.name}-${each.key}"
  region                  = data.aws_region.current.name
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  alb_security_group_id   = module.alb.security_group_id
  target_group_arns       = [module.alb.target_group_arns[each.key]]
  alb_request_count_label = "${module.alb.arn_suffix}/${module.alb.target_group_arn_suffixes[each.key]}"
  instance_type           = var.serving_instance_type
  ami_id                  = var.serving_ami_id
  kms_key_arn             = module.kms_data.key_arn
  min_size                = var.serving_min_size
  max_size                = var.serving_max_size
  desired_capacity        = var.serving_desired_capacity
  package_bucket          = module.s3.bucket_names["artifacts"] # `mlops deploy package` publishes packages/serving/<version>/
  package_version         = var.package_version
  model_names             = var.model_names # one process per instance serves them all (serving-asg README)
  mlflow_tracking_uri     = local.serving_mlflow_tracking_uri
  log_group_name          = local.log_groups.serving
  policy_json             = module.access["serving"].json
  settings_env = merge({
    MLOPS_REGION            = data.aws_region.current.name
    MLOPS_DATA_BUCKET       = module.s3.bucket_names["data"]
    MLOPS_ARTIFACT_BUCKET   = module.s3.bucket_names["artifacts"]
    MLOPS_CAPTURE_BUCKET    = module.s3.bucket_names["capture"]
    MLOPS_KMS_KEY_ARN       = module.kms_data.key_arn
    MLOPS_METRICS_NAMESPACE = var.metrics_namespace
    }, var.capture_hash_key_parameter == null ? {} : {
    # the key personal columns are hashed with in the capture (mlops.core.data_classes)
    MLOPS_CAPTURE_HASH_KEY_PARAMETER = var.capture_hash_key_parameter
  })
  wait_for_capacity_timeout   = var.serving_wait_for_capacity_timeout
  attach_aws_managed_policies = var.attach_aws_managed_policies
  tags                        = merge(local.tags, { Color = each.key })
}

module "eks" {
  source                      = "../eks"
  count                       = var.enable_eks ? 1 : 0
  name                        = local.name
  kubernetes_version          = var.eks_version
  vpc_id                      = module.network.vpc_id
  vpc_cidr                    = module.network.vpc_cidr
  subnet_ids                  = module.network.private_subnet_ids
  public_access_cidrs         = var.eks_public_access_cidrs
  kms_key_arn                 = module.kms_data.key_arn
  logs_kms_key_arn            = module.kms_logs.key_arn
  log_retention_days          = var.log_retention_days
  attach_aws_managed_policies = var.attach_aws_managed_policies
  # Auto Mode: AWS runs and scales the nodes (node pool limits are Kubernetes NodePools, not Terraform)
  # named admins, else the env's Terraform apply role (what creates the cluster, and the one the platform team runs)
  admin_principal_arns = length(var.eks_admin_principal_arns) > 0 ? var.eks_admin_principal_arns : [
    "arn:${data.aws_partition.current.partition}:iam::${local.account}:role/${local.name}-terraform-apply"
  ]
  # the role Jenkins deploys with: edit in mlops-<env> only, plus the mlops-deployers group (modules/eks README)
  deploy_role_arns = [module.deploy_role.role_arn]
  # each color's pods join its ALB target group (TargetGroupBinding, target type ip) when serving runs on EKS
  target_group_arns               = var.serving_target == "eks" ? module.alb.target_group_arns : {}
  load_balancer_security_group_id = module.alb.security_group_id
  # The namespace and service accounts each IRSA role trusts come from the one definition of those names,
  # core/src/mlops/core/contracts_eks.json, which the deploy checks its rendered manifests against too
  # (mlops.core.contracts). Read once: the one-element list only binds the decoded file to a name.
  workloads = merge([
    for names in [jsondecode(file("${path.module}/../../../core/src/mlops/core/contracts_eks.json"))] : {
      for k, v in module.access : k => {
        namespace        = replace(names.namespace, "{environment}", var.environment)
        service_accounts = names.service_accounts[k]
        policy_json      = data.aws_iam_policy_document.workload[k].json
      }
    }
  ]...)
  tags = local.tags
}

module "cloudwatch" {
  source                    = "../cloudwatch"
  name                      = local.name
  kms_key_arn               = module.kms_logs.key_arn
  log_group_names           = values(local.log_groups)
  log_retention_days        = var.log_retention_days
  alert_emails              = var.alert_emails
  alb_arn_suffix            = module.alb.arn_suffix
  target_group_arn_suffixes = module.alb.target_group_arn_suffixes
  min_healthy_hosts         = var.serving_min_size > 0 ? var.serving_min_size : 1
  metrics_namespace         = var.metrics_namespace
  model_names               = var.model_names
  # once the retraining service runs (services/retraining/k8s on EKS), a missing heartbeat means it is down
  retrained_models = var.enable_eks && var.retraining_service_runs ? var.model_names : []
  # both colors run warm at the env's sizes, so each keeps min_size instances in service
  autoscaling_groups = { for color, serving in module.serving : color => { name = serving.autoscaling_group_name, min_size = var.serving_min_size } }
  tags               = local.tags
}

# ---- the deploy role Jenkins assumes for this env ----------------------------------------------------------
module "deploy_role" {
  source                 = "../deploy-role"
  name                   = local.name
  trusted_principal_arns = local.jenkins_principal_arns
  listener_arns          = [module.alb.https_listener_arn]
  autoscaling_group_arns = [for serving in module.serving : serving.autoscaling_group_arn]
  launch_template_arns   = [for serving in module.serving : serving.launch_template_arn]
  pass_role_arns         = [for serving in module.serving : serving.instance_role_arn]
  ecr_repository_arn     = module.ecr.repository_arn
  artifact_bucket_arn    = local.buckets["artifacts"]
  # deploy records and this env's live releases (mlops.core.contracts deploy_record_key, live_release_key)
  # and the EC2 serving package it publishes before the canary (`mlops deploy package`, serving-asg's package_prefix)
  # and each release's evidence with its approval and record (live_evidence_key)
  record_prefixes = [
    "deploys/${var.environment}/", "releases/*/${var.environment}.yaml", "releases/*/${var.environment}.evidence.json",
    "packages/serving/",
  ]
  kms_key_arns = [module.kms_data.key_arn]
  tags         = local.tags

  mlflow_tracking_server_arn = local.mlflow_tracking_server_arn
  eks_cluster_name           = var.enable_eks ? local.name : null # module.eks names its cluster local.name
}

# ---- Jenkins' training role -------------------------------------------------------------------------------------
# The Train and register stage (`mlopsTrain` in jenkins/vars) assumes mlops-<env>-retraining: exactly what the
# retraining workload may do (the same access-policy document as its IRSA role), trusted only by Jenkins.
locals {
  jenkins_principal_arns = coalesce(var.jenkins_principal_arns, ["arn:${data.aws_partition.current.partition}:iam::${local.account}:role/mlops-jenkins"])
}

module "jenkins_retraining" {
  source                 = "../jenkins-role"
  name                   = local.name
  purpose                = "retraining" # fixed: withAWS(role: "mlops-<env>-retraining")
  description            = "Training, registration and gating from Jenkins for ${local.name}: the retraining workload's access"
  trusted_principal_arns = local.jenkins_principal_arns
  policy_name            = "retraining-least-privilege"
  policy_json            = data.aws_iam_policy_document.workload["retraining"].json
  tags                   = local.tags
}

# The audit trail (modules/audit): a multi-region CloudTrail with S3 data events on the three buckets, the VPC's
# flow logs archived beside it, and the CIS alarms on the env's alert topic; GuardDuty and Security Hub when asked.
module "audit" {
  source = "../audit"
  count  = var.enable_audit_trail ? 1 : 0
  name   = local.name

  data_event_bucket_arns       = { for k in ["data", "artifacts", "capture"] : k => module.s3.bucket_arns[k] }
  alarm_actions                = [module.cloudwatch.alert_topic_arn]
  access_log_bucket            = module.s3.log_bucket_name
  vpc_id                       = module.network.vpc_id
  kms_admin_role_arns          = var.kms_admin_role_arns
  log_retention_days           = max(var.log_retention_days, 365) # CIS: a year of trail events at least
  enable_guardduty             = var.enable_guardduty
  enable_security_hub          = var.enable_security_hub
  s3_eventbridge_notifications = var.s3_eventbridge_notifications
  force_destroy                = var.force_destroy_buckets
  tags                         = local.tags
}
