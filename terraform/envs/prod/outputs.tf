# Identical in every env (a unit test keeps them so).
output "data_kms_key_arn" {
  description = "CMK of the buckets, EBS volumes and EKS secrets."
  value       = module.platform.data_kms_key_arn
}

output "logs_kms_key_arn" {
  description = "CMK of the log groups and the alert topic."
  value       = module.platform.logs_kms_key_arn
}

output "bucket_names" {
  description = "Bucket names by purpose."
  value       = module.platform.bucket_names
}

output "alb_dns_name" {
  description = "DNS name of the serving load balancer."
  value       = module.platform.alb_dns_name
}

output "serving_autoscaling_groups" {
  description = "Serving autoscaling groups by color (blue, green)."
  value       = module.platform.serving_autoscaling_groups
}

output "target_group_arns" {
  description = "Serving target groups by color (blue, green)."
  value       = module.platform.target_group_arns
}

output "deploy_targets" {
  description = "Read by `mlops deploy canary|smoke --env <env>`: listener, blue/green target groups and ASGs, canary alarms, service URL."
  value       = module.platform.deploy_targets
}

output "eks_cluster_name" {
  description = "EKS cluster name (null without EKS)."
  value       = module.platform.eks_cluster_name
}

output "eks_workload_role_arns" {
  description = "IRSA roles of serving, drift and retraining."
  value       = module.platform.eks_workload_role_arns
}

output "eks_workloads" {
  description = "Read by the EKS deploy: per workload the namespace, service accounts and IRSA role ARN (empty without EKS)."
  value       = module.platform.eks_workloads
}

output "alert_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.platform.alert_topic_arn
}

output "alarm_names" {
  description = "Names of the alarms."
  value       = module.platform.alarm_names
}

output "log_group_names" {
  description = "Log groups of the services."
  value       = module.platform.log_group_names
}

output "services_env" {
  description = "MLOPS_* settings for the services in this environment."
  value       = module.platform.services_env
}

output "role_arns" {
  description = "IAM roles by workload: serving-blue, serving-green, deploy (Jenkins), irsa-<workload> with EKS."
  value       = module.platform.role_arns
}

output "ecr_repository_url" {
  description = "Serving image repository URL (docker push/pull)."
  value       = module.platform.ecr_repository_url
}

output "ecr_repository_arn" {
  description = "Serving image repository ARN."
  value       = module.platform.ecr_repository_arn
}

output "mlflow_tracking_uri" {
  description = "MLFLOW_TRACKING_URI of this env: the given mlflow_tracking_uri, or the managed tracking server's ARN (needs the sagemaker-mlflow plugin)."
  value       = module.platform.mlflow_tracking_uri
}
