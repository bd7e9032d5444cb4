# A least-privilege IAM policy document for one workload: exactly the bucket prefixes it reads and writes, the
# KMS keys behind them, PutMetricData in one CloudWatch namespace and, optionally, one SageMaker MLflow tracking
# server (read, or read and write). Shared by the EKS IRSA roles and the serving instance role, so the two ways of
# running serving get the same permissions.
locals {
  buckets = distinct([for p in concat(var.read, var.write) : p.bucket_arn])
  prefixes = {
    for b in local.buckets : b => distinct([for p in concat(var.read, var.write) : "${p.prefix}*" if p.bucket_arn == b])
  }
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = length(var.read) > 0 ? [1] : []
    content {
      sid       = "ReadObjects"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = distinct([for p in var.read : "${p.bucket_arn}/${p.prefix}*"])
    }
  }

  dynamic "statement" {
    for_each = length(var.write) > 0 ? [1] : []
    content {
      sid = "WriteObjects"
      # PutObjectTagging: serving tags each capture object with its data class (retention by class, modules/s3)
      actions   = ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"]
      resources = distinct([for p in var.write : "${p.bucket_arn}/${p.prefix}*"])
    }
  }

  dynamic "statement" {
    for_each = length(var.delete) > 0 ? [1] : []
    content {
      sid       = "DeleteObjects"
      actions   = ["s3:DeleteObject"]
      resources = distinct([for p in var.delete : "${p.bucket_arn}/${p.prefix}"])
    }
  }

  dynamic "statement" {
    for_each = local.prefixes
    content {
      sid       = "List${index(local.buckets, statement.key)}"
      actions   = ["s3:ListBucket"]
      resources = [statement.key]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = statement.value
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "UseKeys"
      actions   = length(var.write) > 0 ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
      resources = var.kms_key_arns
    }
  }

  # SageMaker MLflow: the caller's own credentials sign every tracking call, so its identity policy decides. Get*,
  # Search* and List* are the read-level actions (models, versions, aliases, runs, experiments, artifact listings).
  dynamic "statement" {
    for_each = var.mlflow_tracking_server_arn == null ? [] : [1]
    content {
      sid       = "ReadTheTrackingServer"
      actions   = ["sagemaker-mlflow:Get*", "sagemaker-mlflow:Search*", "sagemaker-mlflow:List*"]
      resources = [var.mlflow_tracking_server_arn]
    }
  }

  # What training, registration and promotion call; no deletion but moving an alias (promotion deletes the old one)
  dynamic "statement" {
    for_each = var.mlflow_tracking_server_arn != null && var.mlflow_write ? [1] : []
    content {
      sid = "WriteRunsAndModelsOnTheTrackingServer"
      actions = [
        "sagemaker-mlflow:Create*", "sagemaker-mlflow:Log*", "sagemaker-mlflow:Set*", "sagemaker-mlflow:Update*",
        "sagemaker-mlflow:DeleteRegisteredModelAlias",
      ]
      resources = [var.mlflow_tracking_server_arn]
    }
  }

  # the capture's hash key (personal columns are stored as keyed HMACs; mlops.core.data_classes)
  dynamic "statement" {
    for_each = length(var.ssm_parameter_arns) > 0 ? [1] : []
    content {
      sid       = "ReadSecureParameters"
      actions   = ["ssm:GetParameter"]
      resources = var.ssm_parameter_arns
    }
  }

  dynamic "statement" {
    for_each = var.metrics_namespace == null ? [] : [1]
    content {
      sid       = "PutMetricsInOneNamespace"
      actions   = ["cloudwatch:PutMetricData"]
      resources = ["*"] # PutMetricData has no resource type; the namespace condition scopes it
      condition {
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = [var.metrics_namespace]
      }
    }
  }
}
