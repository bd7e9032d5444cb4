output "data_kms_key_arn" {
  description = "CMK of the buckets, EBS volumes and EKS secrets (MLOPS_KMS_KEY_ARN)."
  value       = module.kms_data.key_arn
}

output "logs_kms_key_arn" {
  description = "CMK of the log groups and the alert topic."
  value       = module.kms_logs.key_arn
}

output "bucket_names" {
  description = "Bucket names by purpose (data, artifacts, capture, logs)."
  value       = module.s3.bucket_names
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = module.network.vpc_id
}

output "alb_dns_name" {
  description = "DNS name of the serving load balancer."
  value       = module.alb.dns_name
}

output "serving_autoscaling_groups" {
  description = "Names of the serving autoscaling groups by color (blue, green)."
  value       = { for color, serving in module.serving : color => serving.autoscaling_group_name }
}

output "target_group_arns" {
  description = "Serving target groups by color (blue, green)."
  value       = module.alb.target_group_arns
}

output "deploy_targets" {
  description = "What `mlops deploy canary` reads (DeployTargets in mlops.delivery.targets): the HTTPS listener, the blue/green target groups and autoscaling groups, the per-color alarms that roll a canary back, the service URL, the artifacts bucket the deploy writes its record and the live release to, and the env's models (the only ones it deploys)."
  value = {
    environment     = var.environment
    listener_arn    = module.alb.https_listener_arn
    target_groups   = module.alb.target_group_arns
    alarm_names     = module.cloudwatch.color_alarm_names # by color: a canary watches the new color's
    serving_target  = var.serving_target
    asg_names       = { for color, serving in module.serving : color => serving.autoscaling_group_name }
    service_url     = "https://${var.service_hostname != null ? var.service_hostname : module.alb.dns_name}"
    artifact_bucket = module.s3.bucket_names["artifacts"] # deploy records and live releases
    model_names     = var.model_names                     # what serving serves: a deploy of another is refused
  }

  precondition {
    condition     = var.serving_target == "asg" || var.enable_eks
    error_message = "serving_target = \"eks\" needs enable_eks = true: there is no cluster to serve from."
  }
}

output "eks_cluster_name" {
  description = "Name of the EKS cluster, or null when enable_eks is false."
  value       = var.enable_eks ? module.eks[0].cluster_name : null
}

output "eks_workload_role_arns" {
  description = "IRSA role ARNs of serving, drift and retraining (empty when enable_eks is false)."
  value       = var.enable_eks ? module.eks[0].workload_role_arns : {}
}

output "eks_workloads" {
  description = "Per workload (serving, drift, retraining): the namespace and service accounts its IRSA role trusts and the role ARN, {namespace, service_accounts, role_arn} (EksWorkload in mlops.core.contracts); the deploy fills the serving ServiceAccount's role annotation from it. Empty when enable_eks is false."
  value       = var.enable_eks ? module.eks[0].workloads : {}
}

output "alert_topic_arn" {
  description = "SNS topic receiving every alarm."
  value       = module.cloudwatch.alert_topic_arn
}

output "alarm_names" {
  description = "Names of the alarms (modules/cloudwatch)."
  value       = module.cloudwatch.alarm_names
}

output "log_group_names" {
  description = "Log groups of serving, drift and retraining."
  value       = module.cloudwatch.log_group_names
}

output "services_env" {
  description = "Settings for the services in this environment: MLOPS_* and MLFLOW_TRACKING_URI."
  value = merge({
    MLFLOW_TRACKING_URI     = local.mlflow_tracking_uri
    MLOPS_ECR_REPOSITORY    = module.ecr.repository_name
    MLOPS_REGION            = data.aws_region.current.name
    MLOPS_DATA_BUCKET       = module.s3.bucket_names["data"]
    MLOPS_ARTIFACT_BUCKET   = module.s3.bucket_names["artifacts"]
    MLOPS_CAPTURE_BUCKET    = module.s3.bucket_names["capture"]
    MLOPS_KMS_KEY_ARN       = module.kms_data.key_arn
    MLOPS_METRICS_NAMESPACE = var.metrics_namespace
    # the capture's hash key (personal columns); "" when the env sets none, which the settings read as unset
    MLOPS_CAPTURE_HASH_KEY_PARAMETER = var.capture_hash_key_parameter == null ? "" : var.capture_hash_key_parameter
    }, var.enable_sagemaker_training ? {
    # the SageMaker backend of the retrain (the image tag is the release's: MLOPS_RETRAIN_SAGEMAKER_IMAGE per deploy)
    MLOPS_RETRAIN_SAGEMAKER_ROLE_ARN        = module.sagemaker_training[0].role_arn
    MLOPS_RETRAIN_SAGEMAKER_SECURITY_GROUPS = module.sagemaker_training[0].security_group_id
    MLOPS_RETRAIN_SAGEMAKER_SUBNETS         = join(",", module.network.private_subnet_ids)
    MLOPS_RETRAIN_SAGEMAKER_JOB_PREFIX      = module.sagemaker_training[0].job_name_prefix
    } : {}, var.enable_drift_emr ? {
    # drift's large windows (absent when off: `drift run --engine auto` then stays on the machine)
    MLOPS_DRIFT_EMR_APPLICATION_ID = module.emr_serverless[0].application_id
    MLOPS_DRIFT_EMR_JOB_ROLE_ARN   = module.emr_serverless[0].job_role_arn
    MLOPS_DRIFT_EMR_LOG_GROUP      = module.emr_serverless[0].log_group_name
    MLOPS_DRIFT_EMR_ENTRY_POINT    = "${module.emr_serverless[0].code_uri}/emr_entry.py"
    MLOPS_DRIFT_EMR_ARCHIVE        = "${module.emr_serverless[0].code_uri}/mlops-drift-venv.tar.gz"
  } : {})
}

output "ops_ecr_repository_url" {
  description = "URL of the ops image repository (services/retraining/Dockerfile: drift, retraining, the k8s and SageMaker training jobs)."
  value       = module.ecr_ops.repository_url
}

output "role_arns" {
  description = "The IAM roles this env's workloads run as: serving instance roles by color (serving-blue, serving-green), the roles Jenkins assumes (deploy, retraining), and the EKS IRSA roles (irsa-<workload>) when EKS is on."
  value = merge(
    { for color, serving in module.serving : "serving-${color}" => serving.instance_role_arn },
    { deploy = module.deploy_role.role_arn, retraining = module.jenkins_retraining.role_arn },
    var.enable_eks ? { for workload, arn in module.eks[0].workload_role_arns : "irsa-${workload}" => arn } : {},
  )
}

output "ecr_repository_url" {
  description = "URL of the serving image repository (docker push/pull), <account>.dkr.ecr.<region>.amazonaws.com/<ecr_repository_name>."
  value       = module.ecr.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the serving image repository."
  value       = module.ecr.repository_arn
}

output "mlflow_tracking_uri" {
  description = "The MLflow tracking URI of this environment (MLFLOW_TRACKING_URI): mlflow_tracking_uri when given, else the managed tracking server's ARN (clients need the sagemaker-mlflow plugin)."
  value       = local.mlflow_tracking_uri

  precondition {
    condition     = local.mlflow_tracking_uri != null
    error_message = "No MLflow tracking URI: managed_mlflow is false and mlflow_tracking_uri is not set. Set mlflow_tracking_uri to your tracking server, or turn managed_mlflow on for a SageMaker MLflow tracking server."
  }
}

output "mlflow_tracking_server_url" {
  description = "HTTPS URL of the managed MLflow tracking server's UI (SigV4-signed; clients use mlflow_tracking_uri); null when managed_mlflow is false."
  value       = var.managed_mlflow ? module.mlflow[0].tracking_server_url : null
}

output "audit_trail_arn" {
  description = "ARN of the env's multi-region CloudTrail, or null without the audit trail."
  value       = one(module.audit[*].trail_arn)
}

output "audit_bucket_name" {
  description = "Name of the audit bucket (trail log files, flow-log archive), or null without the audit trail."
  value       = one(module.audit[*].bucket_name)
}

output "audit_alarm_names" {
  description = "The CIS alarms by check (empty without the audit trail)."
  value       = try(module.audit[0].alarm_names, {})
}
