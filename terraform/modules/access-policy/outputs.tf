output "json" {
  description = "The IAM policy document as JSON."
  value       = data.aws_iam_policy_document.this.json
}
