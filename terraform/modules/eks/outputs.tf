output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider used by IRSA."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "workload_role_arns" {
  description = "IRSA role ARN per workload; annotate the service account with eks.amazonaws.com/role-arn."
  value       = { for k, v in aws_iam_role.workload : k => v.arn }
}

output "node_role_arn" {
  description = "ARN of the node IAM role."
  value       = aws_iam_role.node.arn
}

output "cluster_security_group_id" {
  description = "Security group attached to the control-plane ENIs."
  value       = aws_security_group.cluster.id
}
