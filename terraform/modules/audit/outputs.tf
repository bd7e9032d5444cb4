output "trail_arn" {
  description = "ARN of the multi-region CloudTrail."
  value       = aws_cloudtrail.this.arn
}

output "bucket_name" {
  description = "Name of the audit bucket: trail log files under cloudtrail/, flow logs under AWSLogs/<account>/vpcflowlogs/."
  value       = aws_s3_bucket.trail.id
}

output "kms_key_arn" {
  description = "ARN of the trail's CMK (log files, the trail's log group, flow logs)."
  value       = aws_kms_key.trail.arn
}

output "log_group_name" {
  description = "Name of the CloudWatch Logs group the trail delivers to (the CIS metric filters read it)."
  value       = aws_cloudwatch_log_group.trail.name
}

output "alarm_names" {
  description = "The CIS alarms by check (root-account-use, iam-policy-changes, kms-key-disabled-or-deleted, s3-bucket-policy-changes, console-sign-in-without-mfa, unauthorized-api-calls, cloudtrail-changes)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.cis : k => a.alarm_name }
}

output "flow_log_id" {
  description = "ID of the VPC flow log into the audit bucket."
  value       = aws_flow_log.vpc.id
}

output "guardduty_detector_id" {
  description = "ID of the GuardDuty detector, or null when enable_guardduty is false."
  value       = one(aws_guardduty_detector.this[*].id)
}

output "security_hub_enabled" {
  description = "Whether this module enabled Security Hub in the account and region."
  value       = length(aws_securityhub_account.this) > 0
}
