# The managed MLflow tracking server of one environment (SageMaker AI with MLflow): its artifact store is a prefix
# of the env's artifacts bucket, and it runs as its own role, which SageMaker assumes and which reaches only that
# prefix (and the bucket's key, through S3). Clients use the server's ARN as MLFLOW_TRACKING_URI with the
# `sagemaker-mlflow` plugin installed, which signs their calls with their own AWS credentials; what each of them
# may do on the server is their identity policy's business (modules/access-policy).
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  # the ARN the server will have, known at plan (its name is part of it); the resource checks it after create
  arn            = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${local.account}:mlflow-tracking-server/${var.name}"
  bucket         = element(split(":::", var.artifact_bucket_arn), 1)
  artifact_store = "s3://${local.bucket}/${var.artifact_prefix}"
}

# ---- the server's role --------------------------------------------------------------------------------------
data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    # confused-deputy guard: only SageMaker acting for this account
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "server" {
  name_prefix        = "${substr(var.name, 0, 24)}-mlflow-"
  description        = "Assumed by the SageMaker MLflow tracking server ${var.name}: its artifact store only"
  assume_role_policy = data.aws_iam_policy_document.trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "server" {
  statement {
    sid       = "ArtifactObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${var.artifact_bucket_arn}/${var.artifact_prefix}/*"]
  }

  statement {
    sid       = "ListTheArtifactStoreOnly"
    actions   = ["s3:ListBucket"]
    resources = [var.artifact_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.artifact_prefix, "${var.artifact_prefix}/*"]
    }
  }

  statement {
    sid       = "LocateTheBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [var.artifact_bucket_arn]
  }

  # SSE-KMS objects: the data key, and only through S3 (its key policy delegates nothing else)
  statement {
    sid       = "UseTheBucketKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "server" {
  name   = "mlflow-artifact-store"
  role   = aws_iam_role.server.id
  policy = data.aws_iam_policy_document.server.json
}

# ---- the server ----------------------------------------------------------------------------------------------
resource "aws_sagemaker_mlflow_tracking_server" "this" {
  tracking_server_name            = var.name
  artifact_store_uri              = local.artifact_store
  role_arn                        = aws_iam_role.server.arn
  tracking_server_size            = var.size
  mlflow_version                  = var.mlflow_version
  weekly_maintenance_window_start = var.weekly_maintenance_window_start
  # MLflow's own model registry is the one the pipelines promote in; mirroring into the SageMaker Model Registry
  # would need more permissions for the role and is not used
  automatic_model_registration = false
  tags                         = var.tags

  # the server starts working with its role right away: the policy must be there first
  depends_on = [aws_iam_role_policy.server]

  lifecycle {
    postcondition {
      condition     = self.arn == local.arn
      error_message = "The tracking server's ARN is not the one this module derived from its name (tracking_uri); the outputs would point clients at the wrong server."
    }
  }
}
