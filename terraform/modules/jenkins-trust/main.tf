# The trust policy of every role Jenkins assumes (modules/terraform-roles, modules/deploy-role, the env's Jenkins
# training role): the accounts of the named principals, narrowed to those principals by aws:PrincipalArn. AWS
# refuses a trust policy naming a principal that does not exist yet, and the Jenkins role may be created after
# these; nobody else in those accounts can assume the roles, whatever their own policies say.
data "aws_partition" "current" {}

locals {
  # the accounts of the trusted principals (a Jenkins in another account is trusted through that account)
  trusted_accounts = distinct([for arn in var.trusted_principal_arns : split(":", arn)[4]])
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "OnlyJenkins"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [for account in local.trusted_accounts : "arn:${data.aws_partition.current.partition}:iam::${account}:root"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = var.trusted_principal_arns
    }
  }
}
