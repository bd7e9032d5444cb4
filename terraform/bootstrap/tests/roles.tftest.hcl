# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The Terraform roles the bootstrap creates for every environment: fixed names, trust in the Jenkins principal
# only, and each env's roles given only that env's state object and its lock file (modules/terraform-roles/tests
# proves that the roles reach nothing but what they are given). The state bucket and key are stood in for, so
# that their ARNs are known at plan.
mock_provider "aws" {
  source = "../testing/aws" # the shared mocked data sources
}

override_module {
  target = module.kms
  outputs = {
    key_arn = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
  }
}

override_module {
  target = module.s3
  outputs = {
    bucket_names = { state = "mlops-tf-state-111122223333", logs = "mlops-tf-logs-111122223333" }
    bucket_arns  = { state = "arn:aws:s3:::mlops-tf-state-111122223333", logs = "arn:aws:s3:::mlops-tf-logs-111122223333" }
  }
}

variables {
  region = "eu-west-1"
}

run "every_env_gets_its_own_roles_state_object_and_lock_file" {
  command = plan

  assert {
    condition     = keys(output.terraform_role_arns) == ["dev", "prod", "staging"] && alltrue([for env, roles in output.terraform_role_arns : keys(roles) == ["apply", "plan"]])
    error_message = "terraform_role_arns must map dev, staging and prod to their plan and apply roles"
  }
  assert {
    condition = alltrue([for env, roles in module.terraform_roles :
    roles.role_names == { plan = "mlops-${env}-terraform-plan", apply = "mlops-${env}-terraform-apply" }])
    error_message = "the roles must be named mlops-<env>-terraform-plan and mlops-<env>-terraform-apply"
  }
  assert {
    condition = alltrue([for env, roles in module.terraform_roles :
    roles.state_object_arn == "arn:aws:s3:::mlops-tf-state-111122223333/envs/${env}/terraform.tfstate"])
    error_message = "each env's roles must be given exactly envs/<env>/terraform.tfstate, the key `mlops infra` gives the backend"
  }
  assert {
    condition = alltrue([for env, roles in module.terraform_roles :
    roles.lock_object_arn == "arn:aws:s3:::mlops-tf-state-111122223333/envs/${env}/terraform.tfstate.tflock"])
    error_message = "each env's roles must lock only that env's state, through its lock file (envs/<env>/terraform.tfstate.tflock)"
  }
  assert {
    condition     = length(distinct([for env, roles in module.terraform_roles : roles.state_object_arn])) == 3
    error_message = "no two envs may share a state object"
  }
  assert {
    condition     = output.jenkins_principal_arns == tolist(["arn:aws:iam::111122223333:role/mlops-jenkins"])
    error_message = "by default the roles trust only this account's role/mlops-jenkins"
  }
}

run "one_account_per_env_and_a_jenkins_elsewhere" {
  command = plan
  variables {
    environments           = ["prod"]
    jenkins_principal_arns = ["arn:aws:iam::444455556666:role/mlops-jenkins"]
  }

  assert {
    condition     = keys(output.terraform_role_arns) == ["prod"] && output.jenkins_principal_arns == tolist(["arn:aws:iam::444455556666:role/mlops-jenkins"])
    error_message = "only the named environments get roles, trusting the given Jenkins role"
  }
}

run "a_wildcard_jenkins_principal_is_refused" {
  command = plan
  variables {
    jenkins_principal_arns = ["*"]
  }
  expect_failures = [var.jenkins_principal_arns]
}

run "an_unknown_environment_is_refused" {
  command = plan
  variables {
    environments = ["qa"]
  }
  expect_failures = [var.environments]
}
