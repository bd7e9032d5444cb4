# The two roles Jenkins assumes to run Terraform for one environment (`withAWS(role: ..., roleAccount: ...)` in a
# pipeline stage, from the instance profile of the controller or agents: no AWS keys anywhere):
#   <name>-terraform-plan   read-only: `mlops infra plan` (ReadOnlyAccess + this env's state and its lock file)
#   <name>-terraform-apply  what `mlops infra apply` needs, scoped to this env where IAM can scope it
# Both are created by terraform/bootstrap, so they exist before the environment does. They reach only their own
# env's state object and its lock file (S3 native locking: <key>.tflock beside the state), and the state key only
# through S3.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  iam       = "arn:${local.partition}:iam::${local.account}"
  s3        = "arn:${local.partition}:s3:::"

  state_bucket     = trimprefix(var.state_bucket_arn, local.s3)
  state_object_arn = "${var.state_bucket_arn}/${var.state_key}"
  # the S3 backend's lock (use_lockfile): an object beside the state, created with a conditional put (If-None-Match)
  # and deleted on unlock; planning locks too, so even the plan role writes this one object
  lock_object_arn = "${local.state_object_arn}.tflock"
  via_s3          = ["s3.${local.region}.amazonaws.com"]
  # reading, writing or deleting an object's content (named one by one: a wildcard such as s3:GetObject* would
  # also match actions on buckets)
  object_actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
  lock_actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]

  # AWS managed policies the modules attach (modules/serving-asg, modules/eks): the apply role may attach these
  # and policies named <name>-*, nothing else (tests/unit/infra keeps this list equal to what the modules attach)
  attachable_managed_policies = [
    "AmazonSSMManagedInstanceCore", "AmazonEKSClusterPolicy", "AmazonEKSComputePolicy", "AmazonEKSBlockStoragePolicy",
    "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy", "AmazonEKSWorkerNodeMinimalPolicy",
    "AmazonEC2ContainerRegistryPullOnly",
  ]
  # service-linked roles AWS creates on first use of these services in an account
  service_linked_roles = [
    "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com", "eks.amazonaws.com",
    "guardduty.amazonaws.com", "securityhub.amazonaws.com", "ops.emr-serverless.amazonaws.com",
  ]
}

module "trust" {
  source                 = "../jenkins-trust"
  trusted_principal_arns = var.trusted_principal_arns
}

# The explicit deny both roles carry, so that nothing else attached to them reaches the state key's administration.
# (Other envs' state and lock objects: each role's own object deny below.)
data "aws_iam_policy_document" "guard" {
  statement {
    sid         = "NeverAdministerTheStateKey"
    effect      = "Deny"
    not_actions = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources   = [var.state_kms_key_arn]
  }
}

# ---- plan: read-only ----------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "plan" {
  source_policy_documents = [data.aws_iam_policy_document.guard.json]

  statement {
    sid       = "ListTheStateBucket" # key names only (the backend lists workspaces at init)
    actions   = ["s3:ListBucket"]
    resources = [var.state_bucket_arn]
  }

  statement {
    sid       = "ReadThisEnvsState"
    actions   = ["s3:GetObject"]
    resources = [local.state_object_arn]
  }

  statement {
    sid       = "LockThisEnvsStateOnly"
    actions   = local.lock_actions
    resources = [local.lock_object_arn]
  }

  statement {
    sid       = "DecryptTheStateThroughS3"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.state_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.via_s3
    }
  }

  # the lock file lands in the state bucket, encrypted with the state key; the plan never writes the state itself
  statement {
    sid       = "EncryptTheLockFileThroughS3"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.state_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.via_s3
    }
  }

  # ReadOnlyAccess (attached below) reads every object of the account; the plan needs none but its state and lock
  statement {
    sid           = "NoObjectButThisEnvsState"
    effect        = "Deny"
    actions       = local.object_actions
    not_resources = [local.state_object_arn, local.lock_object_arn]
  }
}

# ---- apply: what the env's modules create --------------------------------------------------------------------------
data "aws_iam_policy_document" "apply" {
  #checkov:skip=CKV_AWS_111:PowerUserAccess-like by design on the services the env's modules create (EC2, Auto Scaling, ELB, EKS, ECR, Logs, CloudWatch, SNS, SageMaker, KMS; GuardDuty and Security Hub, account-wide), whose resources carry generated IDs IAM cannot scope by env; IAM, S3 and CloudTrail are scoped to the env's names (mlops-dev-* for dev)
  #checkov:skip=CKV_AWS_356:Resource * only for those services' generated IDs, IAM reads, listing certificates and trails, WAF association, GuardDuty and Security Hub (account-wide) and the denies; everything with an env-scoped ARN (IAM, S3, the trail, the state object and its lock file) is scoped
  #checkov:skip=CKV_AWS_109:Applying the env sets key, bucket, topic and repository policies and writes its IAM roles; IAM writes stay within the env's names (never the Terraform or Jenkins roles, never sts:AssumeRole) and the state key's administration is denied
  source_policy_documents = [data.aws_iam_policy_document.guard.json]

  statement {
    sid       = "ListTheStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.state_bucket_arn]
  }

  statement {
    sid       = "ReadAndWriteThisEnvsState"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.state_object_arn]
  }

  statement {
    sid       = "LockThisEnvsStateOnly"
    actions   = local.lock_actions
    resources = [local.lock_object_arn]
  }

  statement {
    sid       = "UseTheStateKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.state_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.via_s3
    }
  }

  # Like AWS's PowerUserAccess, but only on the services the modules use, and service-wide there: their resources
  # carry generated IDs that IAM cannot scope by env name. What the role cannot do is the rest of this document:
  # IAM and S3 only within this env's names, no DynamoDB, no Organizations or account
  # settings, no other service at all.
  statement {
    sid = "ServicesTheEnvironmentUses"
    actions = [
      "ec2:*", "autoscaling:*", "elasticloadbalancing:*", "eks:*", "ecr:*", "logs:*", "cloudwatch:*", "sns:*",
      "sagemaker:*", "kms:*", "emr-serverless:*",
    ]
    resources = ["*"]
  }

  # the env's audit trail (modules/audit, named <name>-*), and the account-wide GuardDuty and Security Hub switches
  statement {
    sid       = "ThisEnvsTrail"
    actions   = ["cloudtrail:*"]
    resources = ["arn:${local.partition}:cloudtrail:*:${local.account}:trail/${var.name}-*"]
  }

  statement {
    sid       = "DescribeTrails" # listing has no resource in IAM
    actions   = ["cloudtrail:DescribeTrails", "cloudtrail:ListTrails", "cloudtrail:GetTrailStatus"]
    resources = ["*"]
  }

  statement {
    sid       = "GuardDutyAndSecurityHubSwitches" # account-wide services: a detector and a hub have no env name
    actions   = ["guardduty:*", "securityhub:*"]
    resources = ["*"]
  }

  # what the env looks up: the AMI in AWS's public SSM parameters, the serving certificate in ACM
  statement {
    sid       = "ReadThePublicAmiParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:${local.partition}:ssm:${local.region}::parameter/aws/service/*"]
  }

  statement {
    sid       = "FindTheServingCertificate"
    actions   = ["acm:DescribeCertificate", "acm:ListTagsForCertificate"]
    resources = ["arn:${local.partition}:acm:${local.region}:${local.account}:certificate/*"]
  }

  statement {
    sid       = "ListCertificates" # IAM has no resource for listing
    actions   = ["acm:ListCertificates"]
    resources = ["*"]
  }

  statement {
    sid = "AssociateAGivenWebAcl" # the ACL itself (waf_acl_arn) is never this Terraform's
    actions = [
      "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL", "wafv2:GetWebACL", "wafv2:GetWebACLForResource",
      "wafv2:ListResourcesForWebACL",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ThisEnvsBucketsOnly"
    actions   = ["s3:*"]
    resources = ["${local.s3}${var.name}-*", "${local.s3}${var.name}-*/*"]
  }

  statement {
    sid       = "ReadIam"
    actions   = ["iam:Get*", "iam:List*"]
    resources = ["*"]
  }

  statement {
    sid = "WriteThisEnvsRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateRole",
      "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy", "iam:PassRole",
    ]
    resources = ["${local.iam}:role/${var.name}-*"]
  }

  statement {
    sid       = "AttachOnlyTheManagedPoliciesTheModulesUse"
    actions   = ["iam:AttachRolePolicy"]
    resources = ["${local.iam}:role/${var.name}-*"]
    condition {
      test     = "ArnLike"
      variable = "iam:PolicyARN"
      values   = concat([for p in local.attachable_managed_policies : "arn:${local.partition}:iam::aws:policy/${p}"], ["${local.iam}:policy/${var.name}-*"])
    }
  }

  statement {
    sid = "WriteThisEnvsPoliciesAndInstanceProfiles"
    actions = [
      "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
      "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
      "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
      "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile", "iam:UntagInstanceProfile",
    ]
    resources = ["${local.iam}:policy/${var.name}-*", "${local.iam}:instance-profile/${var.name}-*"]
  }

  # its ARN ends in the cluster's generated ID, so any EKS OIDC provider of this region
  statement {
    sid = "TheEksOidcProvider"
    actions = [
      "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
      "iam:UntagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
      "iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider",
    ]
    resources = ["${local.iam}:oidc-provider/oidc.eks.${local.region}.amazonaws.com/id/*"]
  }

  statement {
    sid       = "ServiceLinkedRolesOfTheServicesUsed"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["${local.iam}:role/aws-service-role/*"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = local.service_linked_roles
    }
  }

  # <name>-* includes these roles themselves and could include the Jenkins role: the apply role must never widen
  # its own permissions or its trust, nor Jenkins'.
  statement {
    sid         = "NeverTheTerraformOrJenkinsRoles"
    effect      = "Deny"
    not_actions = ["iam:Get*", "iam:List*"]
    resources   = concat(["${local.iam}:role/${var.name}-terraform-*"], var.trusted_principal_arns)
  }

  # ec2:* would include reading Windows instances' administrator passwords, which Terraform never needs
  statement {
    sid       = "NoInstancePasswords"
    effect    = "Deny"
    actions   = ["ec2:GetPasswordData"]
    resources = ["*"]
  }

  # a role it created and trusted itself from would be a way around everything above
  statement {
    sid       = "NeverAssumeAnotherRole"
    effect    = "Deny"
    actions   = ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"]
    resources = ["*"]
  }

  statement {
    sid           = "NoObjectOutsideThisEnv"
    effect        = "Deny"
    actions       = local.object_actions
    not_resources = [local.state_object_arn, local.lock_object_arn, "${local.s3}${var.name}-*/*"]
  }
}

resource "aws_iam_role" "this" {
  for_each             = toset(["plan", "apply"])
  name                 = "${var.name}-terraform-${each.key}"
  description          = each.key == "plan" ? "Plans ${var.name} (read-only; its own state and lock file)" : "Applies ${var.name} (its own state; IAM only within ${var.name}-*)"
  assume_role_policy   = module.trust.policy_json
  max_session_duration = 3600 # a pipeline stage's plan or apply fits in an hour; credentials never outlive it
  tags                 = var.tags
}

resource "aws_iam_role_policy" "plan" {
  name   = "plan-one-environment"
  role   = aws_iam_role.this["plan"].id
  policy = data.aws_iam_policy_document.plan.json
}

resource "aws_iam_role_policy" "apply" {
  name   = "apply-one-environment"
  role   = aws_iam_role.this["apply"].id
  policy = data.aws_iam_policy_document.apply.json

  lifecycle {
    # the apply role writes every bucket named <name>-*: the state bucket must not be one of them
    precondition {
      condition     = !startswith(local.state_bucket, "${var.name}-")
      error_message = "terraform-roles: the state bucket ${local.state_bucket} is named like ${var.name}'s own buckets (${var.name}-*), which the apply role may write; give the bootstrap another name_prefix."
    }
  }
}

resource "aws_iam_role_policy_attachment" "read_only" {
  count      = var.attach_aws_managed_policies ? 1 : 0
  role       = aws_iam_role.this["plan"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}
