output "state_bucket" {
  description = "Name of the remote-state bucket (MLOPS_TF_STATE_BUCKET)."
  value       = module.s3.bucket_names["state"]
}

output "lock_table" {
  description = "Name of the DynamoDB lock table (MLOPS_TF_LOCK_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "kms_key_arn" {
  description = "CMK encrypting the state and the lock table."
  value       = module.kms.key_arn
}
