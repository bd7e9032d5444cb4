output "role_arn" {
  description = "ARN of the deploy role (Jenkins assumes it per environment)."
  value       = aws_iam_role.this.arn
}

output "policy_json" {
  description = "The role's policy document as JSON."
  value       = data.aws_iam_policy_document.deploy.json
}
