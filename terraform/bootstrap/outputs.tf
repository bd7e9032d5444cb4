output "state_bucket" {
  description = "Name of the remote-state bucket (MLOPS_TF_STATE_BUCKET)."
  value       = module.s3.bucket_names["state"]
}

output "kms_key_arn" {
  description = "CMK encrypting the state and its lock files."
  value       = module.kms.key_arn
}

output "terraform_role_arns" {
  description = "ARNs of the roles Jenkins runs Terraform with, by environment and purpose: { dev = { plan, apply }, ... }."
  value       = { for env, roles in module.terraform_roles : env => roles.role_arns }
}

output "jenkins_principal_arns" {
  description = "The principals the Terraform roles trust (the Jenkins controller's and agents' role)."
  value       = local.jenkins_principal_arns
}
