# Bootstrap: the remote-state bucket (KMS-encrypted, versioned, private, TLS-only, access-logged, through the
# same s3 module as the platform), and per environment the two roles Jenkins runs Terraform with
# (modules/terraform-roles), which must exist before the env does. No lock table: the envs' S3 backend locks with
# an object beside each state (use_lockfile). Its own state is local: keep terraform.tfstate of this folder safe
# (it only ever holds these few resources).
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  # the Jenkins controller's and agents' role (its instance profile): the only principal the roles trust
  jenkins_principal_arns = var.jenkins_principal_arns != null ? var.jenkins_principal_arns : ["arn:${local.partition}:iam::${local.account}:role/mlops-jenkins"]
}

module "kms" {
  source      = "../modules/kms"
  name        = "${var.name_prefix}-state"
  description = "r5-mlops Terraform state and its lock files"
  # Identity policies of the account may use the key, but only for requests S3 (the state and lock objects) makes
  # on their behalf: the Terraform roles below (and an administrator running Terraform) get it that way; no session
  # can call kms:Decrypt on it directly.
  iam_use_via_services = ["s3"]
  tags                 = var.tags
}

module "s3" {
  source        = "../modules/s3"
  name_prefix   = var.name_prefix
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.force_destroy
  buckets = {
    state = { noncurrent_version_days = 90 }
  }
  eventbridge_notifications = var.s3_eventbridge_notifications
  deny_insecure_transport   = var.deny_insecure_transport
  tags                      = var.tags
}

# ---- the roles Jenkins assumes to plan and apply each environment ------------------------------------------------
# mlops-<env>-terraform-plan and mlops-<env>-terraform-apply: each reaches only its env's state object
# (envs/<env>/terraform.tfstate, the key `mlops infra` gives the S3 backend) and that object's lock file.
module "terraform_roles" {
  source   = "../modules/terraform-roles"
  for_each = toset(var.environments)

  name                        = "mlops-${each.key}" # the platform's name for the env's resources (modules/platform)
  trusted_principal_arns      = local.jenkins_principal_arns
  state_bucket_arn            = module.s3.bucket_arns["state"]
  state_key                   = "envs/${each.key}/terraform.tfstate"
  state_kms_key_arn           = module.kms.key_arn
  attach_aws_managed_policies = var.attach_aws_managed_policies
  tags                        = var.tags
}
