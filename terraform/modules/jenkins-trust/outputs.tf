output "policy_json" {
  description = "The trust (assume-role) policy as JSON."
  value       = data.aws_iam_policy_document.trust.json
}
