# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The policy document is mocked, so these read the statements as configured: the SageMaker MLflow statements are
# there only with a tracking server, scoped to that server, and write only when asked for.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  read         = [{ bucket_arn = "arn:aws:s3:::mlops-prod-artifacts-111122223333", prefix = "mlflow/" }]
  kms_key_arns = ["arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"]
}

run "without_a_tracking_server_no_mlflow_permission" {
  command = plan

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.this.statement : alltrue([for a in s.actions : !startswith(a, "sagemaker")])])
    error_message = "no sagemaker-mlflow action without a tracking server"
  }
}

run "a_reader_reads_only_that_server" {
  command = plan
  variables {
    mlflow_tracking_server_arn = "arn:aws:sagemaker:eu-west-1:111122223333:mlflow-tracking-server/mlops-prod"
  }

  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.this.statement : s.resources == toset([var.mlflow_tracking_server_arn])
    if anytrue([for a in s.actions : startswith(a, "sagemaker-mlflow:")])])
    error_message = "sagemaker-mlflow actions must be scoped to the given tracking server"
  }
  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.this.statement : [for a in s.actions : a if startswith(a, "sagemaker")]])) == toset(["sagemaker-mlflow:Get*", "sagemaker-mlflow:Search*", "sagemaker-mlflow:List*"])
    error_message = "a reader gets the read-level actions only (Get*, Search*, List*)"
  }
}

run "a_writer_logs_registers_and_moves_aliases_but_deletes_nothing_else" {
  command = plan
  variables {
    mlflow_tracking_server_arn = "arn:aws:sagemaker:eu-west-1:111122223333:mlflow-tracking-server/mlops-prod"
    mlflow_write               = true
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.this.statement : [for a in s.actions : a if startswith(a, "sagemaker")]])) == toset([
      "sagemaker-mlflow:Get*", "sagemaker-mlflow:Search*", "sagemaker-mlflow:List*", "sagemaker-mlflow:Create*", "sagemaker-mlflow:Log*",
      "sagemaker-mlflow:Set*", "sagemaker-mlflow:Update*", "sagemaker-mlflow:DeleteRegisteredModelAlias",
    ])
    error_message = "a writer creates, logs, sets and updates, and deletes nothing but an alias it moves"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.this.statement : s.resources == toset([var.mlflow_tracking_server_arn])
    if anytrue([for a in s.actions : startswith(a, "sagemaker-mlflow:")])])
    error_message = "sagemaker-mlflow actions must be scoped to the given tracking server"
  }
}

run "an_arn_that_is_not_a_tracking_server_is_refused" {
  command = plan
  variables {
    mlflow_tracking_server_arn = "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/mlops-prod"
  }
  expect_failures = [var.mlflow_tracking_server_arn]
}

run "deletes_only_where_asked_and_never_a_whole_bucket" {
  command = plan
  variables {
    delete = [{ bucket_arn = "arn:aws:s3:::mlops-prod-data-111122223333", prefix = "audit/promotions/*/pending.json" }]
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "DeleteObjects"] == [toset(["arn:aws:s3:::mlops-prod-data-111122223333/audit/promotions/*/pending.json"])]
    error_message = "s3:DeleteObject goes exactly to the given keys"
  }
}

run "deleting_a_whole_bucket_is_refused" {
  command = plan
  variables {
    delete = [{ bucket_arn = "arn:aws:s3:::mlops-prod-data-111122223333", prefix = "" }]
  }
  expect_failures = [var.delete]
}
