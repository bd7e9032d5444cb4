# A role Jenkins assumes by its fixed name (`withAWS(role: "<name>-<purpose>")`), with one inline policy and the one Jenkins
# trust (modules/jenkins-trust): the env's training role is one (modules/platform).
module "trust" {
  source                 = "../jenkins-trust"
  trusted_principal_arns = var.trusted_principal_arns
}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-${var.purpose}" # fixed: Jenkins assumes it by name
  description          = var.description
  assume_role_policy   = module.trust.policy_json
  max_session_duration = 3600 # a pipeline stage fits in an hour; credentials never outlive it
  tags                 = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = var.policy_name
  role   = aws_iam_role.this.id
  policy = var.policy_json
}
