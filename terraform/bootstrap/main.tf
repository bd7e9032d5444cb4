# Bootstrap: the remote-state bucket (KMS-encrypted, versioned, private, TLS-only, access-logged, through the
# same s3 module as the platform) and the DynamoDB lock table the envs' S3 backend uses. Its own state is local:
# keep terraform.tfstate of this folder safe (it only ever holds these few resources).
module "kms" {
  source      = "../modules/kms"
  name        = "${var.name_prefix}-state"
  description = "r5-mlops Terraform state and locks"
  tags        = var.tags
}

module "s3" {
  source        = "../modules/s3"
  name_prefix   = var.name_prefix
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.force_destroy
  buckets = {
    state = { noncurrent_version_days = 90 }
  }
  eventbridge_notifications = var.s3_eventbridge_notifications
  deny_insecure_transport   = var.deny_insecure_transport
  tags                      = var.tags
}

resource "aws_dynamodb_table" "this" {
  name         = "${var.name_prefix}-locks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = module.kms.key_arn
  }

  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags
}
