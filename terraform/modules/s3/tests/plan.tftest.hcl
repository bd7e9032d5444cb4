# Plan-level assertions with a mocked provider (no account needed): run by tests/unit/test_terraform_plan.py.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name_prefix = "mlops-prod"
  kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
}

run "buckets_are_cmk_encrypted_versioned_private_and_logged" {
  command = plan

  assert {
    condition     = alltrue([for r in aws_s3_bucket_server_side_encryption_configuration.this : one(r.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" && one(r.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.kms_key_arn])
    error_message = "every bucket but the log bucket must default to SSE-KMS with the CMK"
  }
  assert {
    condition     = alltrue([for r in concat(values(aws_s3_bucket_versioning.this), [aws_s3_bucket_versioning.logs]) : r.versioning_configuration[0].status == "Enabled"])
    error_message = "versioning must be on for every bucket"
  }
  assert {
    condition     = alltrue([for r in concat(values(aws_s3_bucket_public_access_block.this), [aws_s3_bucket_public_access_block.logs]) : r.block_public_acls && r.block_public_policy && r.ignore_public_acls && r.restrict_public_buckets])
    error_message = "public access must be blocked on every bucket"
  }
  assert {
    condition     = length(aws_s3_bucket_logging.this) == 3 && length(aws_s3_bucket_policy.all) == 4
    error_message = "the three data buckets must log to the log bucket and all four carry a policy"
  }
  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.logs.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "the log bucket must use SSE-S3 (the only encryption AWS log delivery accepts)"
  }
}
