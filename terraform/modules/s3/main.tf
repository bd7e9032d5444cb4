# The platform's buckets (data = DVC remote, artifacts = MLflow, capture = inference capture), all encrypted with
# the CMK, versioned, private, TLS-only, lifecycle-managed and access-logged into a separate log bucket.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_elb_service_account" "current" {}

locals {
  # account ID in the name: bucket names are global, so two accounts using the same prefix never collide
  suffix      = data.aws_caller_identity.current.account_id
  log_bucket  = "${var.name_prefix}-logs-${local.suffix}"
  all_buckets = merge({ for k, v in aws_s3_bucket.this : k => v }, { logs = aws_s3_bucket.logs })
  # the log bucket always has a policy (it admits the log deliveries); the others only hold the TLS-only deny
  policy_buckets = var.deny_insecure_transport ? local.all_buckets : { logs = aws_s3_bucket.logs }
  # object lock (when a mode is set) covers the two buckets that cannot be rebuilt: the DVC data and the models;
  # capture expires by design and is rebuilt from traffic
  lock_buckets = var.object_lock_mode == null ? {} : { for k, v in var.buckets : k => v if contains(["data", "artifacts"], k) }
  # replication only of the buckets a destination is given for (validated: data, artifacts)
  replicated = { for k, v in var.buckets : k => var.replication_destinations[k] if contains(keys(var.replication_destinations), k) }
}

# Every per-bucket resource iterates var.buckets (not aws_s3_bucket.this): checkov's graph links each setting to
# its bucket only that way when the module is nested, and the scan must see them linked.
resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is an opt-in disaster-recovery choice (replication_destinations, off by default); versioning and the CMK protect the objects here
  for_each      = var.buckets
  bucket        = "${var.name_prefix}-${each.key}-${local.suffix}"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Purpose = each.key })

  lifecycle {
    # checked here rather than in a variable validation, which cannot compare variables before Terraform 1.9
    precondition {
      condition     = (var.object_lock_mode == null) == (var.object_lock_retention_days == null)
      error_message = "s3: object_lock_mode and object_lock_retention_days are set together or not at all."
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = var.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each      = var.buckets
  bucket        = aws_s3_bucket.this[each.key].id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${each.key}/"
  # S3 checks that the log bucket policy admits the logging service before it accepts the logging setting
  depends_on = [aws_s3_bucket_policy.all]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = var.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.buckets[each.key].noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  dynamic "rule" {
    for_each = var.buckets[each.key].expiration_days == null ? [] : [1]
    content {
      id     = "expire-current-objects"
      status = "Enabled"
      filter {}
      expiration {
        days = var.buckets[each.key].expiration_days
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }
  # Retention per data class: serving tags each capture object with the most restricted class it stores
  # (mlops.core.data_classes.OBJECT_TAG). Where rules overlap S3 applies the shortest expiration, so a personal
  # object goes after its class's days even though the bucket-wide rule above also matches it; once expired, its
  # noncurrent version is removed the next day instead of after noncurrent_version_days.
  dynamic "rule" {
    for_each = var.buckets[each.key].retention_by_data_class
    content {
      id     = "expire-${rule.key}-data"
      status = "Enabled"
      filter {
        tag {
          key   = "mlops-data-class"
          value = rule.key
        }
      }
      expiration {
        days = rule.value
      }
      noncurrent_version_expiration {
        noncurrent_days = 1
      }
    }
  }
  depends_on = [aws_s3_bucket_versioning.this]
}

# The log bucket receives S3 server access logs and ALB access logs. Both AWS log deliveries write only to
# buckets encrypted with SSE-S3, so this one bucket cannot use the CMK.
resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_145:S3 server access logs and ALB access logs can only be delivered to SSE-S3 (AES256) buckets
  #checkov:skip=CKV_AWS_18:This is the access-log bucket itself; logging it into itself would loop
  #checkov:skip=CKV_AWS_144:Cross-region replication is a per-account disaster-recovery choice; access logs are kept for audit in-region
  bucket        = local.log_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Purpose = "logs" })
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.logs]
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = var.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = var.buckets
  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = var.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# EventBridge notifications: object events can start drift checks and retraining without polling.
resource "aws_s3_bucket_notification" "this" {
  for_each    = var.buckets
  bucket      = aws_s3_bucket.this[each.key].id
  eventbridge = var.eventbridge_notifications
}

# ---- optional: object lock and cross-region replication (both off by default) ---------------------------------
# Object lock is switched on by this resource rather than by the bucket's object_lock_enabled: that argument
# replaces the bucket when it changes, so turning the lock on for a platform that already holds data would mean
# destroying its buckets. S3 enables object lock on an existing versioned bucket in place (and never turns it off).
# Every new object version gets the default retention; a version cannot be deleted or overwritten before it ends
# (GOVERNANCE: unless the caller has s3:BypassGovernanceRetention; COMPLIANCE: nobody, not even root).
resource "aws_s3_bucket_object_lock_configuration" "this" {
  for_each            = local.lock_buckets
  bucket              = aws_s3_bucket.this[each.key].id
  object_lock_enabled = "Enabled"
  rule {
    default_retention {
      mode = var.object_lock_mode
      days = var.object_lock_retention_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.this] # object lock needs versioning first
}

# The role S3 replicates with exists only when something is replicated. It reads the source versions (and their
# lock settings), decrypts them with the CMK through S3, and writes replicas encrypted with the destination's key.
data "aws_iam_policy_document" "replication_assume" {
  count = length(local.replicated) > 0 ? 1 : 0
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  count              = length(local.replicated) > 0 ? 1 : 0
  name_prefix        = "${substr(var.name_prefix, 0, 24)}-s3-repl-"
  assume_role_policy = data.aws_iam_policy_document.replication_assume[0].json
  tags               = var.tags
}

data "aws_iam_policy_document" "replication" {
  count = length(local.replicated) > 0 ? 1 : 0
  statement {
    sid       = "ReadTheReplicationConfiguration"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [for k, v in local.replicated : aws_s3_bucket.this[k].arn]
  }
  statement {
    sid = "ReadSourceVersions"
    actions = [
      "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
      "s3:GetObjectRetention", "s3:GetObjectLegalHold",
    ]
    resources = [for k, v in local.replicated : "${aws_s3_bucket.this[k].arn}/*"]
  }
  statement {
    sid       = "WriteReplicas"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = distinct([for v in values(local.replicated) : "${v.destination_bucket_arn}/*"])
  }
  statement {
    sid       = "DecryptSourceObjectsThroughS3"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      # with bucket keys the context is the bucket, without them the object
      values = flatten([for k, v in local.replicated : [aws_s3_bucket.this[k].arn, "${aws_s3_bucket.this[k].arn}/*"]])
    }
  }
  dynamic "statement" {
    for_each = local.replicated
    content {
      sid       = "EncryptReplicas${index(keys(local.replicated), statement.key)}"
      actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
      resources = [statement.value.destination_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${split(":", statement.value.destination_kms_key_arn)[3]}.amazonaws.com"]
      }
      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = [statement.value.destination_bucket_arn, "${statement.value.destination_bucket_arn}/*"]
      }
    }
  }
}

resource "aws_iam_role_policy" "replication" {
  count  = length(local.replicated) > 0 ? 1 : 0
  name   = "replicate-${var.name_prefix}"
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

resource "aws_s3_bucket_replication_configuration" "this" {
  for_each = local.replicated
  bucket   = aws_s3_bucket.this[each.key].id
  role     = aws_iam_role.replication[0].arn
  rule {
    id     = "replicate-every-object"
    status = "Enabled"
    filter {}
    # a delete marker here (a mistake, or someone who took over a role) does not hide the replica's object
    delete_marker_replication {
      status = "Disabled"
    }
    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled" # every object here is SSE-KMS; without this none would be replicated
      }
    }
    destination {
      bucket = each.value.destination_bucket_arn
      encryption_configuration {
        replica_kms_key_id = each.value.destination_kms_key_arn
      }
    }
  }
  depends_on = [aws_s3_bucket_versioning.this, aws_iam_role_policy.replication] # both sides must be versioned
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_notification" "logs" {
  bucket      = aws_s3_bucket.logs.id
  eventbridge = var.eventbridge_notifications
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.policy_buckets
  dynamic "statement" {
    for_each = var.deny_insecure_transport ? [1] : []
    content {
      sid     = "DenyInsecureTransport"
      effect  = "Deny"
      actions = ["s3:*"]
      resources = [
        each.value.arn,
        "${each.value.arn}/*",
      ]
      # {"AWS": "*"} is the documented equivalent of "*" (moto's log-delivery check cannot read the bare form)
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "Bool"
        variable = "aws:SecureTransport"
        values   = ["false"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      # the logs land under s3/<bucket>/; the resource is the whole bucket because S3 (and moto) match
      # the logging grant against "<bucket>/*" or the exact target prefix of each source bucket
      sid       = "S3ServerAccessLogDelivery"
      actions   = ["s3:PutObject"]
      resources = ["${each.value.arn}/*"]
      principals {
        type        = "Service"
        identifiers = ["logging.s3.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [data.aws_caller_identity.current.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      # regions from before August 2022 deliver ALB logs from the regional ELB account, newer ones from the
      # log-delivery service principal; allowing both keeps the module region-independent
      sid       = "AlbAccessLogDelivery"
      actions   = ["s3:PutObject"]
      resources = ["${each.value.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
      principals {
        type        = "AWS"
        identifiers = [data.aws_elb_service_account.current.arn]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      sid       = "AlbAccessLogDeliveryService"
      actions   = ["s3:PutObject"]
      resources = ["${each.value.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
      principals {
        type        = "Service"
        identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "all" {
  for_each = local.policy_buckets
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.tls_only[each.key].json
  # a bucket policy is refused while the public access block is being written
  depends_on = [aws_s3_bucket_public_access_block.this, aws_s3_bucket_public_access_block.logs]
}
