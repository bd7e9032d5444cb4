# One customer-managed key with yearly rotation and an explicit key policy that separates administering the key from
# using it. Nobody gets kms:*: administrators manage the key but cannot encrypt or decrypt with it; users use it but
# cannot change it; the account root keeps only what prevents an unmanageable key (see SECURITY.md, "Key policies").
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  account_root = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"
  use_actions  = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
  # AWS's key-administrator list without kms:CreateGrant (a grant is a way to give yourself Decrypt; the grant
  # statement below admits only grants for AWS resources) and without any cryptographic operation
  admin_actions = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation",
    "kms:DisableKeyRotation", "kms:RotateKeyOnDemand", "kms:ListKeyRotations", "kms:ListResourceTags",
    "kms:TagResource", "kms:UntagResource", "kms:UpdateKeyDescription", "kms:EnableKey", "kms:DisableKey",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
    "kms:ListGrants", "kms:RevokeGrant",
  ]
  # no admin role named: administration is delegated to the IAM policies of this account (as AWS's default policy
  # does), still without use of the key
  admins = length(var.admin_role_arns) > 0 ? var.admin_role_arns : [local.account_root]
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; administration goes only to the named admin roles (or the account's IAM policies) and the root keeps only GetKeyPolicy/PutKeyPolicy, so the key can never become unmanageable
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; every write (admin, use, grants) goes to named principals or is conditioned on this account and a service or role pattern
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself, not every resource of the account

  # Without this an empty or deleted admin role would leave a key nobody can manage (only AWS Support could
  # recover it), and KMS's lockout safety check requires the caller of CreateKey/PutKeyPolicy to keep
  # PutKeyPolicy. So the root (meaning: IAM policies of this account) may always read and replace the policy,
  # and nothing more: no use of the key, no deletion.
  statement {
    sid       = "AccountCanAlwaysFixTheKeyPolicy"
    actions   = ["kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:DescribeKey"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  statement {
    sid       = "KeyAdministrators"
    actions   = local.admin_actions
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = local.admins
    }
  }

  # Creating an EKS cluster with secrets encryption has its creator (an administrator: Terraform) grant the key
  # to the cluster; only grants an AWS service makes for one of its resources are admitted.
  statement {
    sid       = "KeyAdministratorsAttachTheKeyToAwsResources"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = local.admins
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  dynamic "statement" {
    for_each = var.allow_cloudwatch_logs ? [1] : []
    content {
      sid       = "CloudWatchLogsEncryptsLogGroupsOfThisAccount"
      actions   = local.use_actions
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
      }
      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${local.account_id}:log-group:*"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.service_principals) > 0 ? [1] : []
    content {
      sid       = "AwsServicesOfThisAccountUseTheKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = var.service_principals
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.user_role_arns) > 0 ? [1] : []
    content {
      sid       = "NamedRolesUseTheKey"
      actions   = local.use_actions
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = var.user_role_arns
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.user_role_arns) > 0 ? [1] : []
    content {
      sid       = "NamedRolesLetAwsResourcesUseTheKey"
      actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = var.user_role_arns
      }
      condition {
        test     = "Bool"
        variable = "kms:GrantIsForAWSResource"
        values   = ["true"]
      }
    }
  }

  # The workloads (serving instance roles, IRSA roles) get kms:Decrypt / GenerateDataKey from their identity
  # policies (modules/access-policy), and so do people and CI pushing data with DVC or MLflow. An identity policy counts only if the key
  # policy delegates to the account, and those roles cannot be named here: the IRSA roles trust the cluster's OIDC
  # provider, the cluster needs this key, so naming them would be a cycle (and KMS refuses a principal that does
  # not exist yet). So the account may grant use, but only for requests an AWS service makes on the caller's
  # behalf (kms:ViaService: S3 objects, SSM SecureStrings): a stolen role session cannot call kms:Decrypt itself.
  dynamic "statement" {
    for_each = length(var.iam_use_via_services) > 0 ? [1] : []
    content {
      sid       = "IamPoliciesOfThisAccountGrantUseThroughAwsServices"
      actions   = local.use_actions
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = [local.account_root]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:CallerAccount"
        values   = [local.account_id]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [for s in var.iam_use_via_services : "${s}.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }

  # Roles that call KMS themselves (not through a service) but cannot be named because they are created after the
  # key (e.g. the EKS cluster role, whose cluster needs the key): matched by ARN pattern, in this account only.
  dynamic "statement" {
    for_each = length(var.user_role_arn_patterns) > 0 ? [1] : []
    content {
      sid       = "MatchingRolesOfThisAccountUseTheKey"
      actions   = concat(local.use_actions, ["kms:ListGrants"])
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = [local.account_root]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:CallerAccount"
        values   = [local.account_id]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:PrincipalArn"
        values   = var.user_role_arn_patterns
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
