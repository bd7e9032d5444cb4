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

# What the platform (and so envs/dev, applied on moto) gets: neither replication nor object lock, so the local
# apply creates only what moto round-trips. tests/unit/infra/test_hardening.py checks the platform passes neither.
run "replication_and_object_lock_are_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_replication_configuration.this) == 0 && length(aws_iam_role.replication) == 0 && output.replication_role_arn == null
    error_message = "no replication and no replication role unless a destination is given"
  }
  assert {
    condition     = length(aws_s3_bucket_object_lock_configuration.this) == 0
    error_message = "no object lock unless a mode is given"
  }
}

run "replication_of_the_data_bucket_to_another_region" {
  command = plan
  variables {
    replication_destinations = {
      data = {
        destination_bucket_arn  = "arn:aws:s3:::mlops-prod-data-dr-111122223333"
        destination_kms_key_arn = "arn:aws:kms:eu-central-1:111122223333:key/11111111-1111-1111-1111-111111111111"
      }
    }
  }

  assert {
    condition     = keys(aws_s3_bucket_replication_configuration.this) == ["data"] && length(aws_iam_role.replication) == 1
    error_message = "only the bucket given a destination replicates, with its own role"
  }
  assert {
    condition = (
      one(aws_s3_bucket_replication_configuration.this["data"].rule).source_selection_criteria[0].sse_kms_encrypted_objects[0].status == "Enabled" &&
      one(aws_s3_bucket_replication_configuration.this["data"].rule).destination[0].encryption_configuration[0].replica_kms_key_id == var.replication_destinations.data.destination_kms_key_arn &&
      one(aws_s3_bucket_replication_configuration.this["data"].rule).destination[0].bucket == var.replication_destinations.data.destination_bucket_arn
    )
    error_message = "the CMK-encrypted objects must replicate, encrypted there with the destination's key"
  }
  assert {
    condition     = one(aws_s3_bucket_replication_configuration.this["data"].rule).delete_marker_replication[0].status == "Disabled"
    error_message = "a delete here must not hide the replica"
  }
}

run "object_lock_on_the_data_and_artifacts_buckets" {
  command = plan
  variables {
    object_lock_mode           = "GOVERNANCE"
    object_lock_retention_days = 30
  }

  assert {
    condition     = toset(keys(aws_s3_bucket_object_lock_configuration.this)) == toset(["data", "artifacts"])
    error_message = "object lock covers the data and artifacts buckets, not capture"
  }
  assert {
    condition     = alltrue([for r in aws_s3_bucket_object_lock_configuration.this : r.object_lock_enabled == "Enabled" && one(r.rule).default_retention[0].mode == "GOVERNANCE" && one(r.rule).default_retention[0].days == 30])
    error_message = "every new version gets the default retention"
  }
}

run "object_lock_without_a_retention_is_refused" {
  command = plan
  variables {
    object_lock_mode = "COMPLIANCE"
  }
  expect_failures = [aws_s3_bucket.this]
}

run "an_unknown_object_lock_mode_is_refused" {
  command = plan
  variables {
    object_lock_mode           = "FOREVER"
    object_lock_retention_days = 30
  }
  expect_failures = [var.object_lock_mode]
}

run "replicating_the_capture_bucket_is_refused" {
  command = plan
  variables {
    replication_destinations = {
      capture = {
        destination_bucket_arn  = "arn:aws:s3:::mlops-prod-capture-dr"
        destination_kms_key_arn = "arn:aws:kms:eu-central-1:111122223333:key/11111111-1111-1111-1111-111111111111"
      }
    }
  }
  expect_failures = [var.replication_destinations]
}

# Retention per data class (issue 20): serving tags each capture object mlops-data-class=<class>
# (mlops.core.data_classes.OBJECT_TAG); the capture bucket expires each class after its own days.
run "capture_objects_expire_by_their_data_class" {
  command = plan

  assert {
    condition = {
      for r in aws_s3_bucket_lifecycle_configuration.this["capture"].rule : one(r.filter[0].tag).value => r.expiration[0].days
      if length(r.filter[0].tag) > 0
    } == { public = 400, internal = 180, personal = 30 }
    error_message = "the capture bucket must expire public, internal and personal objects after their own days"
  }
  assert {
    condition = alltrue([
      for r in aws_s3_bucket_lifecycle_configuration.this["capture"].rule : one(r.filter[0].tag).key == "mlops-data-class" && r.noncurrent_version_expiration[0].noncurrent_days == 1
      if length(r.filter[0].tag) > 0
    ])
    error_message = "class rules must match the tag serving writes and remove an expired object's data the next day"
  }
  assert {
    condition     = length([for r in aws_s3_bucket_lifecycle_configuration.this["data"].rule : r if length(r.filter[0].tag) > 0]) == 0
    error_message = "only buckets given classes get class rules"
  }
}

run "a_retention_for_sensitive_data_is_refused" {
  command = plan
  variables {
    buckets = {
      capture = { noncurrent_version_days = 30, expiration_days = 400, retention_by_data_class = { sensitive = 7 } }
    }
  }
  expect_failures = [var.buckets]
}

run "a_class_kept_longer_than_the_bucket_expiry_is_refused" {
  command = plan
  variables {
    buckets = {
      capture = { noncurrent_version_days = 30, expiration_days = 90, retention_by_data_class = { public = 365 } }
    }
  }
  expect_failures = [var.buckets]
}
