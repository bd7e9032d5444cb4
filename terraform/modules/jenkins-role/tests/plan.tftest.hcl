# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name                   = "mlops-dev"
  purpose                = "retraining"
  description            = "training from Jenkins"
  trusted_principal_arns = ["arn:aws:iam::111122223333:role/mlops-jenkins"]
  policy_name            = "retraining-least-privilege"
  policy_json            = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
}

run "a_fixed_name_one_hour_the_jenkins_trust_and_the_given_policy" {
  command = plan

  assert {
    condition = (
      aws_iam_role.this.name == "mlops-dev-retraining" &&
      aws_iam_role.this.max_session_duration == 3600 &&
      aws_iam_role.this.assume_role_policy == module.trust.policy_json &&
      aws_iam_role_policy.this.name == "retraining-least-privilege" &&
      aws_iam_role_policy.this.policy == var.policy_json
    )
    error_message = "the role must keep its fixed name, one-hour sessions, the Jenkins trust and exactly the given policy"
  }
}
