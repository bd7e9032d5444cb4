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
  description = "IRSA role ARN per workload (the same ARNs, with the names each role trusts, are in workloads)."
  value       = { for k, v in aws_iam_role.workload : k => v.arn }
}

output "workloads" {
  description = "Per workload: the namespace and service accounts its IRSA role trusts and the role's ARN ({namespace, service_accounts, role_arn}); the deploy annotates the service account with eks.amazonaws.com/role-arn from it."
  value = {
    for k, v in var.workloads : k => {
      namespace        = v.namespace
      service_accounts = v.service_accounts
      role_arn         = aws_iam_role.workload[k].arn
    }
  }
}

output "node_role_arn" {
  description = "ARN of the node IAM role."
  value       = aws_iam_role.node.arn
}

output "cluster_security_group_id" {
  description = "Security group attached to the control-plane ENIs."
  value       = aws_security_group.cluster.id
}

output "cluster_primary_security_group_id" {
  description = "Security group EKS made for the cluster; Auto Mode nodes and their pods are in it (the ALB may reach serving_port)."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "deploy_kubernetes_group" {
  description = "Kubernetes group of the deploy role's access entry (the platform team binds it to TargetGroupBinding and ScaledObject in the workloads' namespaces)."
  value       = var.deploy_kubernetes_group
}
