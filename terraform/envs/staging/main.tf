# staging: production shape at a smaller size (one NAT gateway, two serving instances, two nodes).
module "platform" {
  source      = "../../modules/platform"
  environment = var.environment

  vpc_cidr            = var.vpc_cidr
  single_nat_gateway  = true
  interface_endpoints = coalesce(var.interface_endpoints, ["ecr.api", "ecr.dkr", "logs", "sts"])

  log_retention_days       = 365
  kms_deletion_window_days = 30

  certificate_arn         = var.certificate_arn
  serving_domain          = var.serving_domain
  alb_deletion_protection = var.alb_deletion_protection
  waf_acl_arn             = var.waf_acl_arn
  service_hostname        = var.service_hostname

  serving_instance_type    = "c6i.large"
  serving_min_size         = coalesce(var.serving_min_size, 2)
  serving_max_size         = coalesce(var.serving_max_size, 4)
  serving_desired_capacity = coalesce(var.serving_min_size, 2)
  mlflow_tracking_uri      = var.mlflow_tracking_uri

  managed_mlflow              = var.managed_mlflow
  mlflow_tracking_server_size = "Small"

  enable_eks              = var.enable_eks
  eks_public_access_cidrs = var.eks_public_access_cidrs

  grant_autoscaling_service_role = var.grant_autoscaling_service_role
  kms_admin_role_arns            = var.kms_admin_role_arns
  jenkins_principal_arns         = var.jenkins_principal_arns
  attach_aws_managed_policies    = var.attach_aws_managed_policies
  package_version                = var.package_version
  s3_eventbridge_notifications   = var.s3_eventbridge_notifications
  alert_emails                   = var.alert_emails
  enable_audit_trail             = var.enable_audit_trail
  enable_guardduty               = var.enable_guardduty
  enable_security_hub            = var.enable_security_hub
}
