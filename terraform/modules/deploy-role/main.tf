# The role Jenkins assumes to deploy one environment (`mlops deploy canary`, `mlops release deploy`): it moves the
# env's listener weights, rolls the env's serving groups onto new launch template versions, reads the serving
# image from ECR and writes the deploy record and the live release into the artifacts bucket. Nothing else: no
# Terraform apply (that is a separate, broader role), no other env's resources.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
}

module "trust" {
  source                 = "../jenkins-trust"
  trusted_principal_arns = var.trusted_principal_arns
}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-deploy" # fixed: Jenkins assumes it by name, withAWS(role: "mlops-<env>-deploy")
  description          = "Deploys ${var.name}: traffic weights, serving launch templates, deploy records"
  assume_role_policy   = module.trust.policy_json
  max_session_duration = 3600 # a deploy, canary included, fits in an hour; credentials never outlive it
  tags                 = var.tags
}

data "aws_iam_policy_document" "deploy" {
  # Only what mlops.delivery calls. These Describe actions take no resource in IAM ("*" is all AWS accepts).
  statement {
    sid = "ReadDeployState"
    actions = [
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth", # the canary waits for the new color's healthy targets
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeInstanceRefreshes",
      "ec2:DescribeLaunchTemplateVersions",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "LogInToEcr" # docker login: the token is account-wide, the pushes below are this repository only
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushTheServingImage" # `make image` in the env's Deploy stage
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload", "ecr:PutImage",
    ]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "WatchThisEnvsAlarms"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = ["arn:${local.partition}:cloudwatch:${data.aws_region.current.name}:${local.account}:alarm:${var.name}-*"]
  }

  statement {
    sid       = "MoveTrafficOnThisEnvsListener"
    actions   = ["elasticloadbalancing:ModifyListener"]
    resources = var.listener_arns
  }

  # the EC2 path only (an env serving on EKS has no groups: a statement without resources is invalid)
  dynamic "statement" {
    for_each = length(var.autoscaling_group_arns) > 0 ? [1] : []
    content {
      sid       = "RollThisEnvsServingGroups"
      actions   = ["autoscaling:UpdateAutoScalingGroup", "autoscaling:StartInstanceRefresh"]
      resources = var.autoscaling_group_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.launch_template_arns) > 0 ? [1] : []
    content {
      sid       = "NewVersionsOfThisEnvsLaunchTemplates"
      actions   = ["ec2:CreateLaunchTemplateVersion"]
      resources = var.launch_template_arns
    }
  }

  # a group that launches from a template with an instance profile needs its caller to pass that role to EC2
  dynamic "statement" {
    for_each = length(var.pass_role_arns) > 0 ? [1] : []
    content {
      sid       = "PassOnlyTheServingRoleToEc2"
      actions   = ["iam:PassRole"]
      resources = var.pass_role_arns
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["ec2.amazonaws.com"]
      }
    }
  }

  statement {
    sid       = "ReadTheServingImage"
    actions   = ["ecr:DescribeImages", "ecr:DescribeRepositories"]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "WriteDeployRecordsAndLiveReleases"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = [for prefix in var.record_prefixes : "${var.artifact_bucket_arn}/${prefix}*"]
  }

  # listing those prefixes only: without ListBucket S3 answers a missing object (a release not live yet, a package
  # version not published yet) with AccessDenied instead of 404
  statement {
    sid       = "ListTheRecordPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [var.artifact_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for prefix in var.record_prefixes : "${prefix}*"]
    }
  }

  statement {
    sid       = "EncryptRecordsWithTheBucketKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = var.kms_key_arns
  }

  # the deploy's preflight reads the version's gate decision, and a release moves the env's alias
  dynamic "statement" {
    for_each = var.mlflow_tracking_server_arn == null ? [] : [1]
    content {
      sid = "ReadGateDecisionsAndMoveTheEnvsAlias"
      actions = [
        "sagemaker-mlflow:Get*", "sagemaker-mlflow:Search*",
        "sagemaker-mlflow:SetRegisteredModelAlias", "sagemaker-mlflow:DeleteRegisteredModelAlias",
      ]
      resources = [var.mlflow_tracking_server_arn]
    }
  }

  # EKS: the deploy builds its kubeconfig from the cluster (aws eks update-kubeconfig); what it may do inside the
  # cluster is its access entry's (modules/eks: edit in the workloads' namespaces only)
  dynamic "statement" {
    for_each = var.eks_cluster_name == null ? [] : [1]
    content {
      sid       = "FindTheEnvsCluster"
      actions   = ["eks:DescribeCluster"]
      resources = ["arn:${local.partition}:eks:${data.aws_region.current.name}:${local.account}:cluster/${var.eks_cluster_name}"]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy-one-environment"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.deploy.json
}
