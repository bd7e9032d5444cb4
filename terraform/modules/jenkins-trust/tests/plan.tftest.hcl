# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The policy documents are mocked, so these read the statement as configured: sts:AssumeRole only, from the
# account of each named principal, narrowed to exactly those principals by aws:PrincipalArn.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  trusted_principal_arns = ["arn:aws:iam::111122223333:role/mlops-jenkins"]
}

run "only_the_named_principals_through_their_account" {
  command = plan

  assert {
    condition = (
      length(data.aws_iam_policy_document.trust.statement) == 1 &&
      one(data.aws_iam_policy_document.trust.statement).actions == toset(["sts:AssumeRole"]) &&
      coalesce(one(data.aws_iam_policy_document.trust.statement).effect, "Allow") == "Allow" &&
      one(one(data.aws_iam_policy_document.trust.statement).principals).type == "AWS" &&
      one(one(data.aws_iam_policy_document.trust.statement).principals).identifiers == toset(["arn:aws:iam::111122223333:root"]) &&
      jsonencode([for c in one(data.aws_iam_policy_document.trust.statement).condition : [c.test, c.variable, c.values]]) == jsonencode([["ArnLike", "aws:PrincipalArn", ["arn:aws:iam::111122223333:role/mlops-jenkins"]]])
    )
    error_message = "the trust must admit sts:AssumeRole only, from the account narrowed to the Jenkins role by aws:PrincipalArn"
  }
}

run "a_jenkins_role_in_another_account_is_trusted_through_that_account_only" {
  command = plan
  variables {
    trusted_principal_arns = ["arn:aws:iam::444455556666:role/mlops-jenkins-agents"]
  }

  assert {
    condition = (
      one(one(data.aws_iam_policy_document.trust.statement).principals).identifiers == toset(["arn:aws:iam::444455556666:root"]) &&
      tolist(one(one(data.aws_iam_policy_document.trust.statement).condition).values) == tolist(["arn:aws:iam::444455556666:role/mlops-jenkins-agents"])
    )
    error_message = "a Jenkins role in another account must be trusted through that account, narrowed to that role"
  }
}

run "a_wildcard_or_an_account_root_is_refused" {
  command = plan
  variables {
    trusted_principal_arns = ["*", "arn:aws:iam::111122223333:root"]
  }
  expect_failures = [var.trusted_principal_arns]
}
