output "serving_role_arn" {
  description = "ARN of the serving role{% if cookiecutter.serving_target == "eks" %} (annotate the mlops-serve service account with it: deploy/k8s){% endif %}."
  value       = aws_iam_role.this.arn
}
{%- if cookiecutter.serving_target == "asg" %}

output "instance_profile_name" {
  description = "Instance profile for the platform's serving-asg module."
  value       = aws_iam_instance_profile.this.name
}
{%- endif %}

output "data_prefix" {
  description = "This model's prefix in the data bucket (its DVC remote)."
  value       = "dvc/${local.name}/"
}
