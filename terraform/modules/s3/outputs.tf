output "bucket_names" {
  description = "Bucket names by purpose, including logs."
  value       = { for k, v in local.all_buckets : k => v.id }
}

output "bucket_arns" {
  description = "Bucket ARNs by purpose, including logs."
  value       = { for k, v in local.all_buckets : k => v.arn }
}

output "log_bucket_name" {
  description = "Name of the access-log bucket (S3 server access logs under s3/, ALB logs under alb/). Known once the bucket policy admitting the log deliveries is in place."
  value       = aws_s3_bucket_policy.all["logs"].bucket
}

output "replication_role_arn" {
  description = "ARN of the role S3 replicates with (admit it in the destination buckets' and keys' policies), or null without replication."
  value       = one(aws_iam_role.replication[*].arn)
}
