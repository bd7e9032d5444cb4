# The audit trail: who did what, in every region. A multi-region CloudTrail with log file validation, encrypted
# with its own CMK, delivering to a locked-down bucket (TLS-only, private, versioned, optional object lock) and to
# CloudWatch Logs, where the CIS benchmark metric filters raise alarms; S3 data events on the platform's buckets;
# the VPC's flow logs archived next to the trail; GuardDuty and Security Hub as switches.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  root      = "arn:${local.partition}:iam::${local.account}:root"
  admins    = length(var.kms_admin_role_arns) > 0 ? var.kms_admin_role_arns : [local.root]

  trail_name = "${var.name}-audit"
  # built rather than read from the trail: the bucket and key policies name it, and the trail needs both first
  trail_arn     = "arn:${local.partition}:cloudtrail:${local.region}:${local.account}:trail/${local.trail_name}"
  bucket_name   = "${var.name}-audit-${local.account}"
  bucket_arn    = "arn:${local.partition}:s3:::${local.bucket_name}"
  log_group     = "/${var.name}/cloudtrail"
  log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.log_group}"
  trail_prefix  = "cloudtrail"
  # the log delivery service writes flow logs on behalf of this account's log deliveries only
  delivery_source_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:*"

  # The CIS AWS Foundations Benchmark (v1.4-3.0, section "Monitoring"; Security Hub CloudWatch.1-14) metric filters
  # this project needs, on the trail's log group. Each counts matching events; its alarm fires on the first one
  # (unauthorized calls on the fifth in five minutes: a denied console page or a plan reading what it may not is
  # routine, a burst is someone probing).
  cis = {
    root-account-use = {
      description = "The root user made a call (CIS 1.7 / 4.3): nothing here needs root."
      pattern     = "{ $.userIdentity.type = \"Root\" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != \"AwsServiceEvent\" }"
      threshold   = 1
    }
    iam-policy-changes = {
      description = "An IAM policy was created, changed, attached or detached (CIS 4.4). A Terraform apply that changes a role raises it too: match it to the build."
      pattern     = "{ ($.eventName = DeleteGroupPolicy) || ($.eventName = DeleteRolePolicy) || ($.eventName = DeleteUserPolicy) || ($.eventName = PutGroupPolicy) || ($.eventName = PutRolePolicy) || ($.eventName = PutUserPolicy) || ($.eventName = CreatePolicy) || ($.eventName = DeletePolicy) || ($.eventName = CreatePolicyVersion) || ($.eventName = DeletePolicyVersion) || ($.eventName = SetDefaultPolicyVersion) || ($.eventName = AttachRolePolicy) || ($.eventName = DetachRolePolicy) || ($.eventName = AttachUserPolicy) || ($.eventName = DetachUserPolicy) || ($.eventName = AttachGroupPolicy) || ($.eventName = DetachGroupPolicy) || ($.eventName = UpdateAssumeRolePolicy) }"
      threshold   = 1
    }
    kms-key-disabled-or-deleted = {
      description = "A KMS key was disabled or scheduled for deletion (CIS 4.7): data, models and logs under it would become unreadable."
      pattern     = "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }"
      threshold   = 1
    }
    s3-bucket-policy-changes = {
      description = "An S3 bucket policy, ACL, CORS, lifecycle or replication setting changed (CIS 4.8)."
      pattern     = "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication) || ($.eventName = PutBucketPublicAccessBlock) || ($.eventName = DeleteBucketPublicAccessBlock)) }"
      threshold   = 1
    }
    console-sign-in-without-mfa = {
      description = "An IAM user signed in to the console without MFA (CIS 4.2)."
      pattern     = "{ ($.eventName = \"ConsoleLogin\") && ($.additionalEventData.MFAUsed != \"Yes\") && ($.userIdentity.type = \"IAMUser\") && ($.responseElements.ConsoleLogin = \"Success\") }"
      threshold   = 1
    }
    unauthorized-api-calls = {
      description = "Calls refused for lack of permission (CIS 4.1): five in five minutes is someone, or something, probing."
      pattern     = "{ (($.errorCode = \"*UnauthorizedOperation\") || ($.errorCode = \"AccessDenied*\")) && ($.sourceIPAddress != \"delivery.logs.amazonaws.com\") && ($.eventName != \"HeadBucket\") }"
      threshold   = 5
    }
    cloudtrail-changes = {
      description = "A trail was created, changed, stopped or deleted (CIS 4.5): the audit trail itself being tampered with."
      pattern     = "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) || ($.eventName = PutEventSelectors) }"
      threshold   = 1
    }
  }
  metrics_namespace = "MLOps/Audit/${var.name}" # one per env: two envs in one account never mix their counts
}

# ---- the trail's key --------------------------------------------------------------------------------------------
# Its own CMK, so that the audit trail's readers and administrators are not the data's: CloudTrail encrypts log
# files for this trail only, CloudWatch Logs the trail's log group only, log delivery the flow logs of this account;
# people read the logs only through S3 and CloudWatch Logs; administrators never decrypt.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the trail key itself; administration goes only to the named admin roles (or the account's IAM policies) and the root keeps only GetKeyPolicy/PutKeyPolicy/DescribeKey
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the trail key itself; every use is conditioned on this trail, this log group, this account's log deliveries, or a decrypt through S3 in this account
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the trail key itself, not every resource of the account
  statement {
    sid       = "AccountCanAlwaysFixTheKeyPolicy"
    actions   = ["kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:DescribeKey"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = [local.root]
    }
  }

  statement {
    sid = "KeyAdministrators"
    actions = [
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation",
      "kms:DisableKeyRotation", "kms:RotateKeyOnDemand", "kms:ListKeyRotations", "kms:ListResourceTags",
      "kms:TagResource", "kms:UntagResource", "kms:UpdateKeyDescription", "kms:EnableKey", "kms:DisableKey",
      "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
      "kms:ListGrants", "kms:RevokeGrant",
    ]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = local.admins
    }
  }

  statement {
    sid       = "CloudTrailEncryptsThisTrailsLogFiles"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account}:trail/*"]
    }
  }

  statement {
    sid       = "CloudTrailDescribesTheKey"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsTheTrailLogGroup"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.log_group_arn]
    }
  }

  statement {
    sid       = "LogDeliveryEncryptsThisAccountsFlowLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.delivery_source_arn]
    }
  }

  # Auditors (and `aws cloudtrail validate-logs`) read log files through S3; their own IAM policies say who they
  # are. Only through S3: a stolen session cannot call kms:Decrypt on this key directly.
  statement {
    sid       = "IamPoliciesOfThisAccountDecryptThroughS3"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.root]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "trail" {
  description             = "Audit trail of ${var.name}: CloudTrail log files, their log group, VPC flow logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "trail" {
  name          = "alias/${var.name}-audit"
  target_key_id = aws_kms_key.trail.key_id
}

# ---- the audit bucket -------------------------------------------------------------------------------------------
resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a per-account disaster-recovery choice; the trail is multi-region already, log file validation detects tampering and object lock (optional) keeps every version
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Purpose = "audit" })

  lifecycle {
    precondition {
      condition     = (var.object_lock_mode == null) == (var.object_lock_retention_days == null)
      error_message = "audit: object_lock_mode and object_lock_retention_days are set together or not at all."
    }
    precondition {
      condition     = var.object_lock_retention_days == null ? true : var.object_lock_retention_days <= var.bucket_retention_days
      error_message = "audit: object_lock_retention_days cannot exceed bucket_retention_days (a locked file cannot expire)."
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.trail.arn
    }
    # no S3 Bucket Key: with one, CloudTrail needs kms:Decrypt on the key to create or update an SSE-KMS trail,
    # which the key policy grants nobody but S3 on a reader's behalf
    bucket_key_enabled = false
  }
}

resource "aws_s3_bucket_versioning" "trail" {
  bucket = aws_s3_bucket.trail.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "trail" {
  bucket                  = aws_s3_bucket.trail.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# CIS 3.6: who read or deleted the audit logs themselves is in the platform's access-log bucket
resource "aws_s3_bucket_logging" "trail" {
  bucket        = aws_s3_bucket.trail.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/audit/"
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    id     = "archive-then-expire"
    status = "Enabled"
    filter {}
    transition {
      days          = 90
      storage_class = "GLACIER"
    }
    expiration {
      days = var.bucket_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.trail]
}

resource "aws_s3_bucket_notification" "trail" {
  bucket      = aws_s3_bucket.trail.id
  eventbridge = var.s3_eventbridge_notifications
}

# Switched on in place (not by the bucket's object_lock_enabled, which would replace it), as in modules/s3.
resource "aws_s3_bucket_object_lock_configuration" "trail" {
  count               = var.object_lock_mode == null ? 0 : 1
  bucket              = aws_s3_bucket.trail.id
  object_lock_enabled = "Enabled"
  rule {
    default_retention {
      mode = var.object_lock_mode
      days = var.object_lock_retention_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.trail]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]
    # {"AWS": "*"} is the documented equivalent of "*" (as in modules/s3)
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

  statement {
    sid       = "CloudTrailChecksTheBucketAcl"
    actions   = ["s3:GetBucketAcl"]
    resources = [local.bucket_arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "CloudTrailWritesThisTrailsLogFiles"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.trail_prefix}/AWSLogs/${local.account}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
  }

  statement {
    sid       = "LogDeliveryChecksTheBucketAcl"
    actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
    resources = [local.bucket_arn]
    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.delivery_source_arn]
    }
  }

  statement {
    sid       = "LogDeliveryWritesThisAccountsFlowLogs"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/AWSLogs/${local.account}/*"] # AWSLogs/<account>/vpcflowlogs/<region>/...
    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.delivery_source_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  bucket = aws_s3_bucket.trail.id
  policy = data.aws_iam_policy_document.bucket.json
  # a bucket policy is refused while the public access block is being written
  depends_on = [aws_s3_bucket_public_access_block.trail]
}

# ---- CloudWatch Logs delivery -----------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "trail" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.trail.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "delivery_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
}

data "aws_iam_policy_document" "delivery" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.trail.arn}:log-stream:*"]
  }
}

resource "aws_iam_role" "delivery" {
  name_prefix        = "${var.name}-trail-logs-"
  assume_role_policy = data.aws_iam_policy_document.delivery_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "delivery" {
  name   = "deliver-trail-to-logs"
  role   = aws_iam_role.delivery.id
  policy = data.aws_iam_policy_document.delivery.json
}

# ---- the trail --------------------------------------------------------------------------------------------------
resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV_AWS_252:Per-file delivery notifications carry no finding; what needs a person goes through the CIS metric filters and alarms to alarm_actions
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail.id
  s3_key_prefix                 = local.trail_prefix
  is_multi_region_trail         = true
  include_global_service_events = true # IAM, STS, CloudFront: global events are recorded once, here
  enable_log_file_validation    = true
  kms_key_id                    = aws_kms_key.trail.arn
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.trail.arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.delivery.arn
  tags                          = var.tags

  event_selector {
    read_write_type           = "All"
    include_management_events = true

    # object-level reads and writes: who fetched a model, changed training data or read captured requests
    data_resource {
      type   = "AWS::S3::Object"
      values = [for arn in values(var.data_event_bucket_arns) : "${arn}/"]
    }
  }

  depends_on = [aws_s3_bucket_policy.trail, aws_iam_role_policy.delivery]
}

# ---- VPC flow logs, archived with the trail ---------------------------------------------------------------------
# modules/network keeps the VPC's flow logs in CloudWatch Logs for a year, for operations. This copy is the
# evidence: Parquet files under the audit bucket's retention (and object lock, when on), encrypted with the trail key,
# in AWS's own layout (AWSLogs/<account>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/<hh>/), beside the trail's cloudtrail/.
resource "aws_flow_log" "vpc" {
  vpc_id                   = var.vpc_id
  traffic_type             = "ALL"
  log_destination_type     = "s3"
  log_destination          = aws_s3_bucket.trail.arn
  max_aggregation_interval = 600
  tags                     = merge(var.tags, { Name = "${var.name}-audit-flow-logs" })

  destination_options {
    file_format        = "parquet"
    per_hour_partition = true
  }

  depends_on = [aws_s3_bucket_policy.trail]
}

# ---- CIS metric filters and alarms ------------------------------------------------------------------------------
resource "aws_cloudwatch_log_metric_filter" "cis" {
  for_each       = local.cis
  name           = "${var.name}-${each.key}"
  log_group_name = aws_cloudwatch_log_group.trail.name
  pattern        = each.value.pattern

  metric_transformation {
    name      = each.key
    namespace = local.metrics_namespace
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "cis" {
  for_each            = local.cis
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = local.metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.cis[each.key].metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching" # a metric filter publishes only when an event matches: silence is normal
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

# ---- optional: GuardDuty and Security Hub (off by default; README, Cost) -----------------------------------------
resource "aws_guardduty_detector" "this" {
  #checkov:skip=CKV2_AWS_3:This account enables its own detector; auto-enabling every account of an AWS Organization belongs to the organization's delegated GuardDuty administrator, which this template does not manage
  count                        = var.enable_guardduty ? 1 : 0
  enable                       = true
  finding_publishing_frequency = "FIFTEEN_MINUTES"
  tags                         = var.tags
}

# S3 protection reads the data events of every bucket of the account: the data, the models and captured requests
resource "aws_guardduty_detector_feature" "s3" {
  count       = var.enable_guardduty ? 1 : 0
  detector_id = aws_guardduty_detector.this[0].id
  name        = "S3_DATA_EVENTS"
  status      = "ENABLED"
}

resource "aws_securityhub_account" "this" {
  count                    = var.enable_security_hub ? 1 : 0
  enable_default_standards = true # AWS Foundational Security Best Practices and CIS AWS Foundations
  auto_enable_controls     = true
}
