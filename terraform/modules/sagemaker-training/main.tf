# The SageMaker backend of retraining (`mlops retrain run --backend sagemaker`, mlops.retraining.sagemaker): the role
# its training jobs run as and their security group. The jobs are network-isolated and run in the env's private
# subnets; SageMaker, as this role, reads the job's channels (the DVC remote's content-addressed objects in the data
# bucket, the project source and the input manifest in the artifacts bucket), writes the job's output, uses the env's
# key, pulls the training image and writes the jobs' logs. Nothing else.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_vpc_endpoint" "s3" {
  id = var.s3_endpoint_id
}

locals {
  prefix    = coalesce(var.job_name_prefix, var.name)
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  # mlops.retraining.sagemaker: job names start with "<job_name_prefix>-"; the artifacts keys are
  # sagemaker/<model>/{source/<commit>.tar.gz, input/<job>.manifest, output/<job>/output/model.tar.gz}
  jobs          = "arn:${local.partition}:sagemaker:${local.region}:${local.account}:training-job/${local.prefix}-*"
  source_keys   = ["${var.artifacts_bucket_arn}/sagemaker/*/source/*", "${var.artifacts_bucket_arn}/sagemaker/*/input/*"]
  output_keys   = "${var.artifacts_bucket_arn}/sagemaker/*/output/*"
  dvc_objects   = "${var.data_bucket_arn}/${var.dvc_prefix}/*/files/md5/*"
  log_group     = "/aws/sagemaker/TrainingJobs" # SageMaker's fixed group, streams "<job>/algo-1-<epoch>"
  log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.log_group}"
  vpc_arn       = "arn:${local.partition}:ec2:${local.region}:${local.account}:vpc/${var.vpc_id}"
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5: Attached to the training jobs' VpcConfig (MLOPS_RETRAIN_SAGEMAKER_SECURITY_GROUPS), which checkov does not follow
  name        = "${var.name}-sagemaker-training"
  description = "SageMaker training jobs: no inbound, HTTPS out to S3 through the VPC gateway endpoint only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to S3 through the VPC gateway endpoint: the channels in, the model out"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_vpc_endpoint.s3.prefix_list_id

  lifecycle {
    # moto does not return a prefix-list rule's description, so every plan after an apply on the local stack would
    # re-set it; the description is written at create, and nothing else here is ignored
    ignore_changes = [description]
  }
}

resource "aws_cloudwatch_log_group" "jobs" {
  count             = var.manage_log_group ? 1 : 0
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "SageMakerTrainingJobsOfThisEnv"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition { # the confused-deputy guard: only this account's training jobs of this env may take the role
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.jobs]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-sagemaker-training"
  description          = "SageMaker training jobs of ${var.name}'s retraining: read the channels, write the model"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadTheDataVersion" # DVC 3's content-addressed objects: exactly the md5s a manifest names
    actions   = ["s3:GetObject"]
    resources = [local.dvc_objects]
  }
  statement {
    sid       = "ReadTheSourceAndManifest"
    actions   = ["s3:GetObject"]
    resources = local.source_keys
  }
  statement {
    sid       = "ListOnlyTheSource" # the source channel is an S3Prefix channel
    actions   = ["s3:ListBucket"]
    resources = [var.artifacts_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["sagemaker/*/source/*"]
    }
  }
  statement {
    sid       = "WriteTheJobsOutput"
    actions   = ["s3:PutObject"]
    resources = [local.output_keys]
  }
  statement {
    sid       = "TheEnvsKey" # SSE-KMS objects in, the output and the ML volume encrypted with it
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "GrantsForTheVolumeOnly"
    actions   = ["kms:CreateGrant"]
    resources = [var.kms_key_arn]
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
  statement {
    sid       = "PullTheTrainingImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "EcrLogin" # GetAuthorizationToken takes no resource narrower than *
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "WriteTheJobsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${local.log_group_arn}:*"]
  }
  statement {
    sid       = "TheJobsLogGroup"
    actions   = ["logs:CreateLogGroup"]
    resources = ["${local.log_group_arn}:*"]
  }
  statement {
    sid       = "TheJobsMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # the API takes no resource; the namespace condition scopes it
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/TrainingJobs"]
    }
  }
  statement {
    sid       = "EnisInThisVpc" # VpcConfig: SageMaker attaches an ENI in the private subnets with the group
    actions   = ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*"]
    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = [local.vpc_arn]
    }
  }
  statement {
    sid     = "EniSubnetsAndGroup"
    actions = ["ec2:CreateNetworkInterface"]
    resources = concat(
      [for subnet in var.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account}:subnet/${subnet}"],
      [aws_security_group.this.arn],
    )
  }
  statement {
    sid       = "DescribeTheNetwork" # EC2's Describe* calls take no resource narrower than *
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "sagemaker-training"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# What the workload that submits the jobs (the retraining role) needs in addition to its own access: create, watch
# and stop this env's training jobs, hand them this role and nothing else, read their logs, put the source and the
# manifest, read the output. An output for the platform to attach; this module creates no submitting principal.
data "aws_iam_policy_document" "submit" {
  statement {
    sid       = "RunTrainingJobsOfThisEnv"
    actions   = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"]
    resources = [local.jobs]
  }
  statement {
    sid       = "PassOnlyTheTrainingRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.this.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
  statement {
    sid       = "ReadTheJobsLogs"
    actions   = ["logs:DescribeLogStreams", "logs:GetLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }
  statement {
    sid       = "PutTheSourceAndManifest"
    actions   = ["s3:PutObject"]
    resources = local.source_keys
  }
  statement {
    sid       = "ReadTheOutput"
    actions   = ["s3:GetObject"]
    resources = [local.output_keys]
  }
  statement {
    sid       = "TheEnvsKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "GrantsForTheVolumeOnly" # CreateTrainingJob with VolumeKmsKeyId grants SageMaker the key
    actions   = ["kms:CreateGrant"]
    resources = [var.kms_key_arn]
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}
