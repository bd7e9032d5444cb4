# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The deploy role's name is fixed (Jenkins assumes it by name), its sessions last an hour at most, and its trust
# is the one Jenkins trust (modules/jenkins-trust). The policy documents are mocked, so these read the statements as configured.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name                   = "mlops-staging"
  trusted_principal_arns = ["arn:aws:iam::111122223333:role/mlops-jenkins"]
  listener_arns          = ["arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/mlops-staging/0123456789abcdef/0123456789abcdef"]
  autoscaling_group_arns = ["arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/mlops-staging-blue"]
  launch_template_arns   = ["arn:aws:ec2:eu-west-1:111122223333:launch-template/lt-0123456789abcdef0"]
  pass_role_arns         = ["arn:aws:iam::111122223333:role/mlops-staging-blue-serving-0001"]
  ecr_repository_arn     = "arn:aws:ecr:eu-west-1:111122223333:repository/mlops-serve"
  artifact_bucket_arn    = "arn:aws:s3:::mlops-staging-artifacts-111122223333"
  record_prefixes        = ["deploys/staging/"]
  kms_key_arns           = ["arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"]
}

run "a_fixed_name_one_hour_and_only_the_named_principals" {
  command = plan

  assert {
    condition     = aws_iam_role.this.name == "mlops-staging-deploy"
    error_message = "the deploy role must be named <name>-deploy, without a generated suffix (Jenkins assumes it by name)"
  }
  assert {
    condition     = aws_iam_role.this.max_session_duration == 3600
    error_message = "deploy sessions must last at most one hour"
  }
  assert {
    condition     = aws_iam_role.this.assume_role_policy == module.trust.policy_json
    error_message = "the deploy role must carry the one Jenkins trust (modules/jenkins-trust, tested there)"
  }
}

run "an_account_root_as_principal_is_refused" {
  command = plan
  variables {
    trusted_principal_arns = ["arn:aws:iam::111122223333:root"]
  }
  expect_failures = [var.trusted_principal_arns]
}

run "with_eks_it_may_find_the_envs_cluster_and_nothing_else_of_eks" {
  command = plan
  variables {
    eks_cluster_name = "mlops-staging"
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.deploy.statement : s.resources if try(contains(s.actions, "eks:DescribeCluster"), false)]) == toset([
    "arn:aws:eks:eu-west-1:111122223333:cluster/mlops-staging"])
    error_message = "the deploy may describe exactly the env's cluster (for its kubeconfig)"
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.deploy.statement : alltrue([for a in s.actions : !startswith(a, "eks:") || a == "eks:DescribeCluster"])])
    error_message = "no other EKS action: inside the cluster the access entry decides"
  }
}

run "without_eks_no_eks_action" {
  command = plan

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.deploy.statement : alltrue([for a in s.actions : !startswith(a, "eks:")])])
    error_message = "an env without EKS gives the deploy no EKS action"
  }
}

run "it_lists_only_its_record_prefixes" {
  command = plan

  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.deploy.statement : [for c in s.condition : [c.test, c.variable, c.values]] if try(contains(s.actions, "s3:ListBucket"), false)])) == jsonencode([["StringLike", "s3:prefix", ["deploys/staging/*"]]]) && one([for s in data.aws_iam_policy_document.deploy.statement : s.resources if try(contains(s.actions, "s3:ListBucket"), false)]) == toset(["arn:aws:s3:::mlops-staging-artifacts-111122223333"])
    error_message = "the deploy lists the artifacts bucket under its record prefixes only (a missing object is then a 404, not AccessDenied)"
  }
}
