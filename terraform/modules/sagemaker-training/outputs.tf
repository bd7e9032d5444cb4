output "role_arn" {
  description = "Execution role of the training jobs (MLOPS_RETRAIN_SAGEMAKER_ROLE_ARN)."
  value       = aws_iam_role.this.arn
}

output "security_group_id" {
  description = "Security group of the jobs' VpcConfig (MLOPS_RETRAIN_SAGEMAKER_SECURITY_GROUPS)."
  value       = aws_security_group.this.id
}

output "job_name_prefix" {
  description = "What training job names start with (MLOPS_RETRAIN_SAGEMAKER_JOB_PREFIX)."
  value       = local.prefix
}

output "submitter_policy_json" {
  description = "IAM policy the submitting workload (retraining) needs beside its own: run, watch and stop this env's jobs, pass this role only, read the jobs' logs, put the source and manifest, read the output."
  value       = data.aws_iam_policy_document.submit.json
}
