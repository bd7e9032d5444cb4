# Drift checks of large windows on EMR Serverless (`mlops drift run --engine emr-serverless|auto`): one Spark
# application in the env's private subnets, and the role its job runs as. The role reads the model capture, the
# job's profile and code, writes the job's report, uses the env's key and writes to its own log group. Nothing else.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  # the job's folders: drift-emr/<model>/<stamp>-<id>/{profile.json,report.json} (mlops.drift.emr.JobPaths)
  work_objects = "${var.data_bucket_arn}/${var.work_prefix}/*"
  log_group    = "/${var.name}/drift-emr"
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5: Attached to the EMR Serverless application's network configuration, which checkov does not follow
  name        = "${var.name}-drift-emr"
  description = "EMR Serverless drift jobs: no inbound (workers talk over the service network), HTTPS out"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to the AWS APIs the job calls (through the VPC endpoints or the NAT)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_emrserverless_application" "this" {
  name          = "${var.name}-drift"
  release_label = var.release_label
  type          = "SPARK" # as the API spells it (moto refuses any other spelling)
  architecture  = var.architecture

  maximum_capacity { # the most a burst of jobs may hold at once: the cost ceiling
    cpu    = var.max_cpu
    memory = var.max_memory
    disk   = var.max_disk
  }

  auto_start_configuration {
    enabled = true # StartJobRun starts a stopped application: nothing runs (or bills) between checks
  }

  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = var.idle_timeout_minutes
  }

  network_configuration { # the capture never leaves the VPC's path to S3; no public IPs
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.this.id]
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "job" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = coalesce(var.logs_kms_key_arn, var.kms_key_arn)
  tags              = var.tags
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "EmrServerlessJobsOfThisApplication"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }
    condition { # the confused-deputy guard: only this account's application may hand the role to a job
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_emrserverless_application.this.arn]
    }
  }
}

resource "aws_iam_role" "job" {
  name                 = "${var.name}-drift-emr-job"
  description          = "EMR Serverless drift job of ${var.name}: reads the capture, writes the report"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ReadTheCapture"
    actions   = ["s3:GetObject"]
    resources = ["${var.capture_bucket_arn}/${var.capture_prefix}/*"]
  }
  statement {
    sid       = "ReadTheJobsProfileAndCode"
    actions   = ["s3:GetObject"]
    resources = [local.work_objects, "${var.code_bucket_arn}/${var.code_prefix}/*"]
  }
  statement {
    sid       = "WriteTheJobsReport"
    actions   = ["s3:PutObject"]
    resources = ["${var.data_bucket_arn}/${var.work_prefix}/*/report.json"]
  }
  statement {
    sid       = "ListOnlyTheseFolders" # Spark asks for a missing object's status by listing; a 404, not a 403
    actions   = ["s3:ListBucket"]
    resources = distinct([var.capture_bucket_arn, var.data_bucket_arn, var.code_bucket_arn])
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.capture_prefix}/*", "${var.work_prefix}/*", "${var.code_prefix}/*"]
    }
  }
  statement {
    sid       = "TheBucketsKey" # SSE-KMS objects: read the capture, write the report
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "WriteItsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.job.arn}:*"]
  }
  statement {
    sid       = "FindItsLogGroup" # EMR checks the group exists before the job starts; the API takes no narrower ARN
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "drift-job"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# What the workload that submits the job (the drift CronJob's role) needs in addition to its own access: start,
# watch and cancel runs of this application, hand it this role and nothing else, put the job's profile, read its
# report. An output for the platform to attach; this module creates no submitting principal.
data "aws_iam_policy_document" "submit" {
  statement {
    sid       = "RunDriftJobs"
    actions   = ["emr-serverless:StartJobRun", "emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"]
    resources = [aws_emrserverless_application.this.arn, "${aws_emrserverless_application.this.arn}/jobruns/*"]
  }
  statement {
    sid       = "PassOnlyTheJobRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.job.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["emr-serverless.amazonaws.com"]
    }
  }
  statement {
    sid       = "PutTheProfileReadTheReport"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = [local.work_objects]
  }
  statement {
    sid       = "TheBucketsKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}
