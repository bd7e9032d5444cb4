# Assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The audit trail: what tests/integration/test_audit_trail.py cannot read back from moto (the key policy, the bucket
# policy's conditions, GuardDuty's S3 protection, Security Hub's standards) and the switches and refusals. The policy
# documents are mocked, so these read the statements as configured. Runs apply against the mock (nothing is
# created anywhere) so that the bucket, key and log group ARNs are known.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

override_resource {
  target = aws_s3_bucket.trail
  values = { id = "mlops-prod-audit-111122223333", arn = "arn:aws:s3:::mlops-prod-audit-111122223333" }
}
override_resource {
  target = aws_kms_key.trail
  values = { arn = "arn:aws:kms:eu-west-1:111122223333:key/22222222-2222-2222-2222-222222222222" }
}
override_resource {
  target = aws_cloudwatch_log_group.trail
  values = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/mlops-prod/cloudtrail" }
}
override_resource {
  target = aws_iam_role.delivery
  values = { arn = "arn:aws:iam::111122223333:role/mlops-prod-trail-logs-0001" }
}

variables {
  name = "mlops-prod"
  data_event_bucket_arns = {
    data      = "arn:aws:s3:::mlops-prod-data-111122223333"
    artifacts = "arn:aws:s3:::mlops-prod-artifacts-111122223333"
    capture   = "arn:aws:s3:::mlops-prod-capture-111122223333"
  }
  alarm_actions       = ["arn:aws:sns:eu-west-1:111122223333:mlops-prod-alerts"]
  access_log_bucket   = "mlops-prod-logs-111122223333"
  vpc_id              = "vpc-0123456789abcdef0"
  kms_admin_role_arns = ["arn:aws:iam::111122223333:role/mlops-prod-terraform-apply"]
}

run "the_trail_is_multi_region_validated_and_encrypted_with_its_own_key" {
  command = apply

  assert {
    condition     = aws_cloudtrail.this.is_multi_region_trail && aws_cloudtrail.this.include_global_service_events
    error_message = "the trail must record every region and the global services (IAM, STS)"
  }
  assert {
    condition     = aws_cloudtrail.this.enable_log_file_validation
    error_message = "log file validation must be on (digest files prove the logs were not changed)"
  }
  assert {
    condition     = aws_cloudtrail.this.kms_key_id == aws_kms_key.trail.arn && aws_kms_key.trail.enable_key_rotation && output.kms_key_arn == aws_kms_key.trail.arn
    error_message = "log files must be encrypted with the trail's own rotating CMK"
  }
  assert {
    condition     = aws_cloudtrail.this.s3_bucket_name == aws_s3_bucket.trail.id && aws_cloudtrail.this.s3_key_prefix == "cloudtrail"
    error_message = "the trail must deliver to its own bucket, under cloudtrail/"
  }
  assert {
    condition     = aws_cloudtrail.this.cloud_watch_logs_group_arn == "${aws_cloudwatch_log_group.trail.arn}:*" && aws_cloudtrail.this.cloud_watch_logs_role_arn == aws_iam_role.delivery.arn
    error_message = "the trail must deliver to its CloudWatch Logs group through the delivery role"
  }
  assert {
    condition     = aws_cloudwatch_log_group.trail.kms_key_id == aws_kms_key.trail.arn && aws_cloudwatch_log_group.trail.retention_in_days == 365
    error_message = "the trail's log group must be encrypted with the trail key and kept 365 days by default"
  }
  # the delivery role: CloudTrail for this trail only, writing only this group's streams
  assert {
    condition = (
      one(one(data.aws_iam_policy_document.delivery_assume.statement).principals).identifiers == toset(["cloudtrail.amazonaws.com"]) &&
      one([for c in one(data.aws_iam_policy_document.delivery_assume.statement).condition : toset(c.values) if c.variable == "aws:SourceArn"]) == toset(["arn:aws:cloudtrail:eu-west-1:111122223333:trail/mlops-prod-audit"]) &&
      one(data.aws_iam_policy_document.delivery.statement).resources == toset(["${aws_cloudwatch_log_group.trail.arn}:log-stream:*"])
    )
    error_message = "only CloudTrail, for this trail, may assume the delivery role, which writes only the trail's log streams"
  }
}

run "the_key_policy_admits_this_trail_and_never_lets_administrators_decrypt" {
  command = apply

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.key.statement : !contains(s.actions, "kms:*")])
    error_message = "no statement may grant kms:*"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.key.statement :
      length(setintersection(s.actions, ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"])) == 0
    if s.sid == "KeyAdministrators"])
    error_message = "key administrators must not encrypt, decrypt or generate data keys"
  }
  assert {
    condition     = toset(one(one([for s in data.aws_iam_policy_document.key.statement : s if s.sid == "KeyAdministrators"]).principals).identifiers) == toset(var.kms_admin_role_arns)
    error_message = "the named admin roles administer the key"
  }
  assert {
    condition = one([for c in one([for s in data.aws_iam_policy_document.key.statement : s if s.sid == "CloudTrailEncryptsThisTrailsLogFiles"]).condition :
    toset(c.values) if c.variable == "aws:SourceArn"]) == toset(["arn:aws:cloudtrail:eu-west-1:111122223333:trail/${aws_cloudtrail.this.name}"])
    error_message = "CloudTrail may encrypt with the key only for this trail (aws:SourceArn)"
  }
  assert {
    condition = one([for c in one([for s in data.aws_iam_policy_document.key.statement : s if s.sid == "CloudWatchLogsEncryptsTheTrailLogGroup"]).condition :
    toset(c.values) if c.variable == "kms:EncryptionContext:aws:logs:arn"]) == toset(["arn:aws:logs:eu-west-1:111122223333:log-group:${aws_cloudwatch_log_group.trail.name}"])
    error_message = "CloudWatch Logs may use the key only for the trail's log group"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.key.statement :
      contains([for c in s.condition : c.variable], "kms:CallerAccount") && one([for c in s.condition : toset(c.values) if c.variable == "kms:ViaService"]) == toset(["s3.eu-west-1.amazonaws.com"])
    if anytrue([for p in s.principals : contains(p.identifiers, "arn:aws:iam::111122223333:root")]) && contains(s.actions, "kms:Decrypt")])
    error_message = "the account's IAM policies may decrypt log files only through S3, in this account"
  }
}

run "the_audit_bucket_is_private_tls_only_versioned_and_admits_only_this_trail" {
  command = apply

  assert {
    condition     = one(aws_s3_bucket_versioning.trail.versioning_configuration).status == "Enabled"
    error_message = "the audit bucket must be versioned"
  }
  assert {
    condition = (
      one(one(aws_s3_bucket_server_side_encryption_configuration.trail.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" &&
      one(one(aws_s3_bucket_server_side_encryption_configuration.trail.rule).apply_server_side_encryption_by_default).kms_master_key_id == aws_kms_key.trail.arn
    )
    error_message = "the audit bucket must default to SSE-KMS with the trail key"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.trail.block_public_acls && aws_s3_bucket_public_access_block.trail.block_public_policy && aws_s3_bucket_public_access_block.trail.ignore_public_acls && aws_s3_bucket_public_access_block.trail.restrict_public_buckets
    error_message = "the audit bucket must block every kind of public access"
  }
  assert {
    condition     = one(aws_s3_bucket_ownership_controls.trail.rule).object_ownership == "BucketOwnerEnforced" && aws_s3_bucket_logging.trail.target_bucket == var.access_log_bucket
    error_message = "ACLs off, and the audit bucket's own access logged"
  }
  assert {
    condition     = one(one(aws_s3_bucket_lifecycle_configuration.trail.rule).expiration).days == 2557 && length(aws_s3_bucket_object_lock_configuration.trail) == 0
    error_message = "log files are kept seven years by default, without object lock unless asked for"
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.bucket.statement : s if s.sid == "DenyInsecureTransport"]).effect == "Deny" && one([for c in one([for s in data.aws_iam_policy_document.bucket.statement : s if s.sid == "DenyInsecureTransport"]).condition :
    toset(c.values) if c.variable == "aws:SecureTransport"]) == toset(["false"])
    error_message = "the audit bucket must refuse every request without TLS"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.bucket.statement :
      one([for c in s.condition : toset(c.values) if c.variable == "aws:SourceArn"]) == toset(["arn:aws:cloudtrail:eu-west-1:111122223333:trail/mlops-prod-audit"])
    if anytrue([for p in s.principals : contains(p.identifiers, "cloudtrail.amazonaws.com")])])
    error_message = "CloudTrail may check and write the bucket only for this trail (aws:SourceArn)"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.bucket.statement : s if s.sid == "CloudTrailWritesThisTrailsLogFiles"]).resources == toset(["arn:aws:s3:::mlops-prod-audit-111122223333/cloudtrail/AWSLogs/111122223333/*"])
    error_message = "CloudTrail writes only under cloudtrail/AWSLogs/<this account>/"
  }
}

run "data_events_cover_the_data_artifacts_and_capture_buckets" {
  command = apply

  assert {
    condition = (
      one(aws_cloudtrail.this.event_selector).read_write_type == "All" &&
      one(aws_cloudtrail.this.event_selector).include_management_events &&
      one(one(aws_cloudtrail.this.event_selector).data_resource).type == "AWS::S3::Object"
    )
    error_message = "the trail records management events and every object read and write"
  }
  assert {
    condition = toset(one(one(aws_cloudtrail.this.event_selector).data_resource).values) == toset([
      "arn:aws:s3:::mlops-prod-data-111122223333/",
      "arn:aws:s3:::mlops-prod-artifacts-111122223333/",
      "arn:aws:s3:::mlops-prod-capture-111122223333/",
    ])
    error_message = "data events must cover exactly the data, artifacts and capture buckets"
  }
}

run "each_cis_alarm_exists_with_its_pattern" {
  command = apply

  assert {
    condition = alltrue([for check, events in {
      root-account-use            = ["$.userIdentity.type = \"Root\"", "$.userIdentity.invokedBy NOT EXISTS"]
      iam-policy-changes          = ["PutRolePolicy", "AttachRolePolicy", "CreatePolicyVersion", "DeletePolicy", "PutUserPolicy", "DetachGroupPolicy"]
      kms-key-disabled-or-deleted = ["kms.amazonaws.com", "DisableKey", "ScheduleKeyDeletion"]
      s3-bucket-policy-changes    = ["s3.amazonaws.com", "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl"]
      console-sign-in-without-mfa = ["ConsoleLogin", "$.additionalEventData.MFAUsed != \"Yes\""]
      unauthorized-api-calls      = ["*UnauthorizedOperation", "AccessDenied*"]
      cloudtrail-changes          = ["StopLogging", "DeleteTrail", "UpdateTrail"]
    } : alltrue([for e in events : strcontains(aws_cloudwatch_log_metric_filter.cis[check].pattern, e)])])
    error_message = "each CIS metric filter must match its events"
  }
  assert {
    condition     = length(aws_cloudwatch_log_metric_filter.cis) == 7 && alltrue([for f in aws_cloudwatch_log_metric_filter.cis : f.log_group_name == aws_cloudwatch_log_group.trail.name])
    error_message = "the seven CIS metric filters must read the trail's log group"
  }
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.cis :
      a.metric_name == one(aws_cloudwatch_log_metric_filter.cis[k].metric_transformation).name &&
      a.namespace == one(aws_cloudwatch_log_metric_filter.cis[k].metric_transformation).namespace &&
      a.alarm_actions == toset(var.alarm_actions) && a.comparison_operator == "GreaterThanOrEqualToThreshold" && a.period == 300
    ])
    error_message = "each filter's metric must have an alarm notifying alarm_actions"
  }
  assert {
    condition     = alltrue([for k, a in aws_cloudwatch_metric_alarm.cis : a.threshold == (k == "unauthorized-api-calls" ? 5 : 1)])
    error_message = "every alarm fires on the first event, unauthorized calls on the fifth in five minutes"
  }
  assert {
    condition     = output.alarm_names["root-account-use"] == "mlops-prod-root-account-use" && length(output.alarm_names) == 7
    error_message = "the alarm names are <name>-<check>"
  }
}

run "flow_logs_of_the_vpc_are_archived_encrypted_in_the_audit_bucket" {
  command = apply

  assert {
    condition = (
      aws_flow_log.vpc.traffic_type == "ALL" &&
      aws_flow_log.vpc.log_destination_type == "s3" &&
      aws_flow_log.vpc.log_destination == "arn:aws:s3:::mlops-prod-audit-111122223333" &&
      one(aws_flow_log.vpc.destination_options).file_format == "parquet"
    )
    error_message = "all of the VPC's traffic must be logged, as Parquet, into the audit bucket"
  }
  assert {
    condition = alltrue([for doc in [data.aws_iam_policy_document.key, data.aws_iam_policy_document.bucket] : alltrue([for s in doc.statement :
      one([for c in s.condition : toset(c.values) if c.variable == "aws:SourceAccount"]) == toset(["111122223333"])
    if anytrue([for p in s.principals : contains(p.identifiers, "delivery.logs.amazonaws.com")])])])
    error_message = "the log delivery service may write and encrypt flow logs only for this account"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.key.statement : s if s.sid == "LogDeliveryEncryptsThisAccountsFlowLogs"]) == 1
    error_message = "the trail key must let the log delivery service encrypt the flow logs (SSE-KMS bucket default)"
  }
}

run "a_vpc_id_that_is_not_one_is_refused" {
  command = plan
  variables {
    vpc_id = "subnet-0123456789abcdef0"
  }
  expect_failures = [var.vpc_id]
}

run "guardduty_and_security_hub_are_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_guardduty_detector.this) == 0 && length(aws_guardduty_detector_feature.s3) == 0 && output.guardduty_detector_id == null
    error_message = "GuardDuty must be off unless asked for (it is billed)"
  }
  assert {
    condition     = length(aws_securityhub_account.this) == 0 && !output.security_hub_enabled
    error_message = "Security Hub must be off unless asked for (it is billed)"
  }
}

run "guardduty_and_security_hub_on_when_asked" {
  command = plan
  variables {
    enable_guardduty    = true
    enable_security_hub = true
  }

  assert {
    condition     = aws_guardduty_detector.this[0].enable && aws_guardduty_detector_feature.s3[0].name == "S3_DATA_EVENTS" && aws_guardduty_detector_feature.s3[0].status == "ENABLED"
    error_message = "GuardDuty must run with S3 protection when asked for"
  }
  assert {
    condition     = aws_securityhub_account.this[0].enable_default_standards && output.security_hub_enabled
    error_message = "Security Hub must be on with its default standards when asked for"
  }
}

run "object_lock_on_when_asked" {
  command = plan
  variables {
    object_lock_mode           = "COMPLIANCE"
    object_lock_retention_days = 365
  }

  assert {
    condition     = one(one(aws_s3_bucket_object_lock_configuration.trail[0].rule).default_retention).mode == "COMPLIANCE" && one(one(aws_s3_bucket_object_lock_configuration.trail[0].rule).default_retention).days == 365
    error_message = "object lock must apply the given mode and retention to every new log file"
  }
}

run "object_lock_without_a_retention_is_refused" {
  command = plan
  variables {
    object_lock_mode = "GOVERNANCE"
  }
  expect_failures = [aws_s3_bucket.trail]
}

run "a_lock_longer_than_the_retention_is_refused" {
  command = plan
  variables {
    object_lock_mode           = "GOVERNANCE"
    object_lock_retention_days = 4000
  }
  expect_failures = [aws_s3_bucket.trail]
}

run "alarms_without_a_topic_are_refused" {
  command = plan
  variables {
    alarm_actions = []
  }
  expect_failures = [var.alarm_actions]
}

run "a_data_event_target_that_is_not_a_bucket_arn_is_refused" {
  command = plan
  variables {
    data_event_bucket_arns = { data = "arn:aws:s3:::mlops-prod-data-111122223333/some/prefix" }
  }
  expect_failures = [var.data_event_bucket_arns]
}

run "a_log_retention_below_90_days_is_refused" {
  command = plan
  variables {
    log_retention_days = 30
  }
  expect_failures = [var.log_retention_days]
}
