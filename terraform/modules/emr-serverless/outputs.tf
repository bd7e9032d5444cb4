output "application_id" {
  description = "EMR Serverless application of the drift jobs (MLOPS_DRIFT_EMR_APPLICATION_ID)."
  value       = aws_emrserverless_application.this.id
}

output "application_arn" {
  description = "ARN of the application."
  value       = aws_emrserverless_application.this.arn
}

output "job_role_arn" {
  description = "Role the drift job runs as (MLOPS_DRIFT_EMR_JOB_ROLE_ARN)."
  value       = aws_iam_role.job.arn
}

output "security_group_id" {
  description = "Security group of the application's workers."
  value       = aws_security_group.this.id
}

output "log_group_name" {
  description = "CloudWatch Logs group of the jobs (MLOPS_DRIFT_EMR_LOG_GROUP)."
  value       = aws_cloudwatch_log_group.job.name
}

output "code_uri" {
  description = "s3:// folder the job's code is published to: <code_uri>/emr_entry.py (MLOPS_DRIFT_EMR_ENTRY_POINT) and <code_uri>/mlops-drift-venv.tar.gz (MLOPS_DRIFT_EMR_ARCHIVE)."
  value       = "s3://${element(split(":", var.code_bucket_arn), 5)}/${var.code_prefix}"
}

output "submitter_policy_json" {
  description = "Policy the submitting workload (the drift CronJob's role) needs: StartJobRun/GetJobRun/CancelJobRun on this application, iam:PassRole of the job role to EMR Serverless only, the job folders' profile and report."
  value       = data.aws_iam_policy_document.submit.json
}

output "job_policy_json" {
  description = "The job role's policy document as JSON."
  value       = data.aws_iam_policy_document.job.json
}
