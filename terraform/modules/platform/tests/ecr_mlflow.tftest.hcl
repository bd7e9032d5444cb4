# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The serving image repository and the MLflow tracking URI: the repository the deploy role reads is the one the
# platform creates, and the tracking URI is an output (the managed server's, or the one given), never a guess.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  environment              = "prod"
  vpc_cidr                 = "10.30.0.0/16"
  certificate_arn          = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
  serving_min_size         = 3
  serving_max_size         = 12
  serving_desired_capacity = 3
  enable_eks               = false
}

run "without_a_uri_the_managed_server_gives_it" {
  command = plan

  assert {
    condition     = output.mlflow_tracking_uri == "arn:aws:sagemaker:eu-west-1:111122223333:mlflow-tracking-server/mlops-prod"
    error_message = "with no mlflow_tracking_uri the tracking URI must be the managed server's ARN"
  }
  assert {
    condition     = output.services_env.MLFLOW_TRACKING_URI == output.mlflow_tracking_uri && module.mlflow[0].tracking_server_arn == output.mlflow_tracking_uri
    error_message = "services_env and the workloads' policies must name the same tracking server"
  }
  assert {
    condition     = output.services_env.MLOPS_ECR_REPOSITORY == "mlops-serve"
    error_message = "the services must be told the repository the platform creates (MLOPS_ECR_REPOSITORY's default)"
  }
}

run "a_given_uri_wins" {
  command = plan
  variables {
    mlflow_tracking_uri = "https://mlflow.internal.example"
  }

  assert {
    condition     = output.mlflow_tracking_uri == "https://mlflow.internal.example" && output.services_env.MLFLOW_TRACKING_URI == "https://mlflow.internal.example"
    error_message = "a given mlflow_tracking_uri must be the one the services use"
  }
}

run "without_the_managed_server_and_without_a_uri_the_plan_fails" {
  command = plan
  variables {
    managed_mlflow = false
  }
  expect_failures = [output.mlflow_tracking_uri]
}

run "without_the_managed_server_there_is_none" {
  command = plan
  variables {
    managed_mlflow      = false
    mlflow_tracking_uri = "http://127.0.0.1:5000"
  }

  assert {
    condition     = length(module.mlflow) == 0 && output.mlflow_tracking_server_url == null && output.mlflow_tracking_uri == "http://127.0.0.1:5000"
    error_message = "managed_mlflow = false must create no tracking server and use the given URI"
  }
}

run "a_uri_with_credentials_is_refused" {
  command = plan
  variables {
    mlflow_tracking_uri = "https://user:secret@mlflow.internal.example" # pragma: allowlist secret
  }
  expect_failures = [var.mlflow_tracking_uri]
}
