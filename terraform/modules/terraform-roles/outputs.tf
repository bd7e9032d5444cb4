output "role_arns" {
  description = "ARNs of the roles by purpose: plan (read-only) and apply."
  value       = { for purpose, role in aws_iam_role.this : purpose => role.arn }
}

output "role_names" {
  description = "Names of the roles by purpose: <name>-terraform-plan and <name>-terraform-apply (what a pipeline passes to withAWS(role: ...))."
  value       = { for purpose, role in aws_iam_role.this : purpose => role.name }
}

output "state_object_arn" {
  description = "The one object of the state bucket the roles reach: this env's state (plan reads it, apply reads and writes it)."
  value       = local.state_object_arn
}

output "lock_object_arn" {
  description = "The S3 backend's lock file of this env's state (<key>.tflock, use_lockfile): the one object besides the state the roles may write (plan included: planning locks)."
  value       = local.lock_object_arn
}

output "policy_json" {
  description = "The roles' documents as JSON: trust (both roles), plan and apply (their inline policies)."
  value = {
    trust = module.trust.policy_json
    plan  = data.aws_iam_policy_document.plan.json
    apply = data.aws_iam_policy_document.apply.json
  }
}
