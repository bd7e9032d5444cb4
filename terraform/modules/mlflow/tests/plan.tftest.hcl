# Assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The managed MLflow tracking server: its artifact store, its size, the role SageMaker assumes and how little
# that role may do. The policy documents are mocked, so these read the statements as configured. The first run
# applies against the mock (nothing is created anywhere) so that the role's and the server's ARNs are known.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name                = "mlops-prod"
  artifact_bucket_arn = "arn:aws:s3:::mlops-prod-artifacts-111122223333"
  kms_key_arn         = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
}

run "the_server_keeps_artifacts_in_its_prefix_and_runs_as_its_own_role" {
  command = apply

  override_resource {
    target = aws_iam_role.server
    values = { arn = "arn:aws:iam::111122223333:role/mlops-prod-mlflow-0001" }
  }
  override_resource {
    target = aws_sagemaker_mlflow_tracking_server.this
    values = { arn = "arn:aws:sagemaker:eu-west-1:111122223333:mlflow-tracking-server/mlops-prod" }
  }

  assert {
    condition     = aws_sagemaker_mlflow_tracking_server.this.artifact_store_uri == "s3://mlops-prod-artifacts-111122223333/mlflow" && output.artifact_store_uri == "s3://mlops-prod-artifacts-111122223333/mlflow"
    error_message = "the artifact store must be s3://<artifacts bucket>/mlflow"
  }
  assert {
    condition     = aws_sagemaker_mlflow_tracking_server.this.role_arn == "arn:aws:iam::111122223333:role/mlops-prod-mlflow-0001" && output.role_arn == aws_sagemaker_mlflow_tracking_server.this.role_arn
    error_message = "the server must run as the module's own role"
  }
  assert {
    condition     = aws_sagemaker_mlflow_tracking_server.this.tracking_server_size == "Small" && aws_sagemaker_mlflow_tracking_server.this.tracking_server_name == "mlops-prod"
    error_message = "the server must be named after the env and be Small by default"
  }
  assert {
    condition     = !aws_sagemaker_mlflow_tracking_server.this.automatic_model_registration
    error_message = "models must not be mirrored into the SageMaker Model Registry (the role has no permission for it)"
  }
  assert {
    condition     = output.tracking_uri == "arn:aws:sagemaker:eu-west-1:111122223333:mlflow-tracking-server/mlops-prod" && output.tracking_server_arn == output.tracking_uri
    error_message = "the tracking URI clients use must be the tracking server's ARN"
  }

  # trust: SageMaker only, for this account only
  assert {
    condition = (
      length(data.aws_iam_policy_document.trust.statement) == 1 &&
      toset(one(data.aws_iam_policy_document.trust.statement).actions) == toset(["sts:AssumeRole"]) &&
      one(one(data.aws_iam_policy_document.trust.statement).principals).type == "Service" &&
      toset(one(one(data.aws_iam_policy_document.trust.statement).principals).identifiers) == toset(["sagemaker.amazonaws.com"]) &&
      one([for c in one(data.aws_iam_policy_document.trust.statement).condition : toset(c.values) if c.variable == "aws:SourceAccount"]) == toset(["111122223333"])
    )
    error_message = "only SageMaker, acting for this account, may assume the server's role"
  }

  # the role's policy: objects under mlflow/ only, listing only that prefix, the data key only through S3
  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.server.statement : tolist(s.actions)])) == toset([
      "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket", "s3:GetBucketLocation", "kms:Decrypt", "kms:GenerateDataKey",
    ])
    error_message = "the server's role may read and write artifacts and use the key, nothing else (no deletes, no wildcards)"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.server.statement :
      alltrue([for r in s.resources : r == "arn:aws:s3:::mlops-prod-artifacts-111122223333/mlflow/*"])
    if length(setintersection(s.actions, ["s3:GetObject", "s3:PutObject"])) > 0])
    error_message = "object access must be limited to the artifacts bucket's mlflow/ prefix"
  }
  assert {
    condition = one([for c in one([for s in data.aws_iam_policy_document.server.statement : s if contains(s.actions, "s3:ListBucket")]).condition :
    toset(c.values) if c.variable == "s3:prefix"]) == toset(["mlflow", "mlflow/*"])
    error_message = "listing must be limited to the mlflow/ prefix"
  }
  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.server.statement : s if contains(s.actions, "kms:Decrypt")]).resources == toset([var.kms_key_arn]) &&
      one([for c in one([for s in data.aws_iam_policy_document.server.statement : s if contains(s.actions, "kms:Decrypt")]).condition :
      toset(c.values) if c.variable == "kms:ViaService"]) == toset(["s3.eu-west-1.amazonaws.com"])
    )
    error_message = "the role may use only the data key, and only through S3"
  }
}

run "size_and_prefix_come_from_the_variables" {
  command = plan
  variables {
    size                            = "Medium"
    artifact_prefix                 = "tracking/prod"
    weekly_maintenance_window_start = "TUE:03:30"
  }

  assert {
    condition     = aws_sagemaker_mlflow_tracking_server.this.tracking_server_size == "Medium" && aws_sagemaker_mlflow_tracking_server.this.artifact_store_uri == "s3://mlops-prod-artifacts-111122223333/tracking/prod" && aws_sagemaker_mlflow_tracking_server.this.weekly_maintenance_window_start == "TUE:03:30"
    error_message = "size, artifact prefix and maintenance window must follow the variables"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.server.statement : s if contains(s.actions, "s3:GetObject")]).resources == toset(["arn:aws:s3:::mlops-prod-artifacts-111122223333/tracking/prod/*"])
    error_message = "the role must follow the artifact prefix"
  }
}

run "an_unknown_size_is_refused" {
  command = plan
  variables {
    size = "XLarge"
  }
  expect_failures = [var.size]
}

run "a_prefix_with_slashes_at_the_ends_is_refused" {
  command = plan
  variables {
    artifact_prefix = "/mlflow/"
  }
  expect_failures = [var.artifact_prefix]
}

run "a_maintenance_window_that_is_not_a_day_and_time_is_refused" {
  command = plan
  variables {
    weekly_maintenance_window_start = "Sunday 3am"
  }
  expect_failures = [var.weekly_maintenance_window_start]
}
