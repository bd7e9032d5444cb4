# Run by tests/integration/test_terraform_plan.py with a mocked provider (no account needed). The env plans with
# nothing but its committed terraform.tfvars (which `terraform test` loads, like plan) and the region `mlops infra`
# always passes (MLOPS_REGION): on AWS, as Jenkins runs `mlops infra plan --env <env>`, no variable is missing.
# The file is the same in every env (tests/unit/infra/test_terraform_roles.py keeps it so).
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  region = "eu-west-1" # `mlops infra` passes -var=region=$MLOPS_REGION
}

# Terraform asks for every root variable before it plans anything, so planning one small part of the env is
# enough to prove the values complete (and keeps this run to a few seconds).
run "plans_with_only_the_committed_values" {
  command = plan
  plan_options {
    target = [module.platform.data.aws_acm_certificate.serving]
  }

  assert {
    condition     = var.certificate_arn == null && can(regex("^[a-z0-9.-]+\\.[a-z]+$", var.serving_domain))
    error_message = "the env's certificate must come from ACM by the serving_domain its terraform.tfvars sets"
  }
}
