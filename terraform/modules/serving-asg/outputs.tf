output "autoscaling_group_name" {
  description = "Name of the autoscaling group."
  value       = aws_autoscaling_group.this.name
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.serving.id
}

output "security_group_id" {
  description = "Security group of the serving instances."
  value       = aws_security_group.instance.id
}

output "instance_role_arn" {
  description = "ARN of the instance IAM role (grant it key use for encrypted data)."
  value       = aws_iam_role.instance.arn
}

output "scaling_policy_names" {
  description = "Names of the target-tracking policies."
  value       = [aws_autoscaling_policy.cpu.name, aws_autoscaling_policy.requests.name]
}

output "autoscaling_group_arn" {
  description = "ARN of the autoscaling group (scopes the deploy role)."
  value       = aws_autoscaling_group.this.arn
}

output "launch_template_arn" {
  description = "ARN of the launch template (scopes the deploy role)."
  value       = aws_launch_template.serving.arn
}

output "package_uri" {
  description = "Where the instances install the serving package from: s3://<package_bucket>/<package_prefix>/<package_version>/ (what `mlops deploy package` publishes)."
  value       = "s3://${var.package_bucket}/${var.package_prefix}/${var.package_version}/"
}

output "default_model_uris" {
  description = "What each instance serves until a deploy pins versions (instance tag mlops:model-version): every model of model_names at model_alias, in one process."
  value       = local.default_model_uris
}
