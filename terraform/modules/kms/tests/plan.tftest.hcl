# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The policy document is mocked, so these read the statements as configured.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name                   = "mlops-prod-data"
  description            = "test key"
  admin_role_arns        = ["arn:aws:iam::111122223333:role/terraform"]
  user_role_arns         = ["arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
  iam_use_via_services   = ["s3", "ssm"]
  user_role_arn_patterns = ["arn:aws:iam::111122223333:role/mlops-prod-cluster-*"]
}

run "administration_and_use_are_split" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "rotation must be on"
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.key.statement : !contains(s.actions, "kms:*")])
    error_message = "no statement may grant kms:*"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.key.statement : length(setintersection(s.actions, ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"])) == 0
    if s.sid == "KeyAdministrators"])
    error_message = "key administrators must not encrypt, decrypt or generate data keys"
  }
  assert {
    condition     = toset(one(one([for s in data.aws_iam_policy_document.key.statement : s if s.sid == "KeyAdministrators"]).principals).identifiers) == toset(var.admin_role_arns)
    error_message = "the named admin roles administer the key"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.key.statement : s if s.sid == "AccountCanAlwaysFixTheKeyPolicy"]).actions == toset(["kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:DescribeKey"])
    error_message = "the account root keeps only what keeps the key manageable"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.key.statement :
      contains([for c in s.condition : c.variable], "kms:CallerAccount") && length(setintersection([for c in s.condition : c.variable], ["kms:ViaService", "aws:PrincipalArn"])) == 1
    if anytrue([for p in s.principals : contains(p.identifiers, "arn:aws:iam::111122223333:root")]) && contains(s.actions, "kms:Decrypt")])
    error_message = "use delegated to the account's IAM policies must be limited to this account and to the named services or role patterns"
  }
  assert {
    condition     = one([for c in one([for s in data.aws_iam_policy_document.key.statement : s if s.sid == "IamPoliciesOfThisAccountGrantUseThroughAwsServices"]).condition : toset(c.values) if c.variable == "kms:ViaService"]) == toset(["s3.eu-west-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com"])
    error_message = "the services through which IAM policies grant use must be exactly the ones given"
  }
}

run "without_named_admins_the_account_administers_but_never_uses_the_key" {
  command = plan
  variables {
    admin_role_arns        = []
    iam_use_via_services   = []
    user_role_arn_patterns = []
  }

  assert {
    condition     = toset(one(one([for s in data.aws_iam_policy_document.key.statement : s if s.sid == "KeyAdministrators"]).principals).identifiers) == toset(["arn:aws:iam::111122223333:root"])
    error_message = "with no admin role the account's IAM policies administer the key"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.key.statement : !contains(s.actions, "kms:Decrypt")
    if anytrue([for p in s.principals : contains(p.identifiers, "arn:aws:iam::111122223333:root")])])
    error_message = "without iam_use_via_services the account root must not be able to use the key"
  }
}

run "an_admin_that_is_not_a_role_is_refused" {
  command = plan
  variables {
    admin_role_arns = ["arn:aws:iam::111122223333:user/alice"]
  }
  expect_failures = [var.admin_role_arns]
}
