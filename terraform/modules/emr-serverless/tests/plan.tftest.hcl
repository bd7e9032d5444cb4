# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The application (Spark, EMR 7, capped, starting and stopping itself, in the private subnets) and its job role:
# trusted by EMR Serverless for this application only, allowed to read the capture and the job's inputs, write
# only report.json, use the key and its own log group. The applied module: tests/integration/test_drift_emr.py.
mock_provider "aws" {
  source          = "../../testing/aws" # the shared mocked data sources
  override_during = plan
  mock_resource "aws_emrserverless_application" {
    defaults = { arn = "arn:aws:emr-serverless:eu-west-1:111122223333:/applications/00fabcdefg123456", id = "00fabcdefg123456" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/mlops-prod-drift-emr-job" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/mlops-prod/drift-emr" }
  }
}

variables {
  name               = "mlops-prod"
  vpc_id             = "vpc-0123456789abcdef0"
  subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  capture_bucket_arn = "arn:aws:s3:::mlops-prod-capture-111122223333"
  data_bucket_arn    = "arn:aws:s3:::mlops-prod-data-111122223333"
  code_bucket_arn    = "arn:aws:s3:::mlops-prod-artifacts-111122223333"
  kms_key_arn        = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
}

run "a_capped_spark_application_in_the_private_subnets_that_stops_when_idle" {
  command = plan

  assert {
    condition     = lower(aws_emrserverless_application.this.type) == "spark" && startswith(aws_emrserverless_application.this.release_label, "emr-7.")
    error_message = "the drift application must be Spark on an EMR 7 release"
  }
  assert {
    condition     = aws_emrserverless_application.this.maximum_capacity[0].cpu == "32 vCPU" && aws_emrserverless_application.this.maximum_capacity[0].memory == "128 GB"
    error_message = "the application must have a maximum capacity (the cost ceiling)"
  }
  assert {
    condition     = aws_emrserverless_application.this.auto_start_configuration[0].enabled && aws_emrserverless_application.this.auto_stop_configuration[0].enabled && aws_emrserverless_application.this.auto_stop_configuration[0].idle_timeout_minutes == 15
    error_message = "the application must start on a job and stop when idle"
  }
  assert {
    condition     = toset(aws_emrserverless_application.this.network_configuration[0].subnet_ids) == toset(var.subnet_ids)
    error_message = "the workers must run in the env's private subnets"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.https.from_port == 443 && aws_vpc_security_group_egress_rule.https.to_port == 443
    error_message = "outbound to addresses is HTTPS only"
  }
}

run "the_job_role_is_trusted_by_this_application_only" {
  command = plan

  assert {
    condition     = one(data.aws_iam_policy_document.trust.statement[0].principals).identifiers == toset(["emr-serverless.amazonaws.com"])
    error_message = "only EMR Serverless may assume the job role"
  }
  assert {
    condition     = { for c in data.aws_iam_policy_document.trust.statement[0].condition : c.variable => join(",", c.values) } == { "aws:SourceAccount" = "111122223333", "aws:SourceArn" = "arn:aws:emr-serverless:eu-west-1:111122223333:/applications/00fabcdefg123456" }
    error_message = "the trust must name the account and this application (SourceAccount, SourceArn)"
  }
  assert {
    condition     = aws_iam_role.job.name == "mlops-prod-drift-emr-job"
    error_message = "the job role is named <name>-drift-emr-job"
  }
}

run "the_job_reads_the_capture_and_its_inputs_and_writes_only_its_report" {
  command = plan

  assert {
    condition = { for s in data.aws_iam_policy_document.job.statement : s.sid => toset(s.resources) } == {
      ReadTheCapture            = toset(["arn:aws:s3:::mlops-prod-capture-111122223333/capture/*"])
      ReadTheJobsProfileAndCode = toset(["arn:aws:s3:::mlops-prod-data-111122223333/drift-emr/*", "arn:aws:s3:::mlops-prod-artifacts-111122223333/emr/drift/*"])
      WriteTheJobsReport        = toset(["arn:aws:s3:::mlops-prod-data-111122223333/drift-emr/*/report.json"])
      ListOnlyTheseFolders      = toset(["arn:aws:s3:::mlops-prod-capture-111122223333", "arn:aws:s3:::mlops-prod-data-111122223333", "arn:aws:s3:::mlops-prod-artifacts-111122223333"])
      TheBucketsKey             = toset([var.kms_key_arn])
      WriteItsLogs              = toset(["arn:aws:logs:eu-west-1:111122223333:log-group:/mlops-prod/drift-emr:*"])
      FindItsLogGroup           = toset(["arn:aws:logs:eu-west-1:111122223333:log-group:*"])
    }
    error_message = "the job role's statements and resources changed: least privilege is what this test pins"
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.job.statement : alltrue([for a in s.actions : !endswith(a, "*")])])
    error_message = "no wildcard actions in the job role"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.job.statement : s.actions if s.sid == "WriteTheJobsReport"]) == toset(["s3:PutObject"])
    error_message = "the job writes report.json and nothing else"
  }
}

run "the_submitter_may_run_this_application_and_pass_only_the_job_role" {
  command = plan

  assert {
    condition     = one([for s in data.aws_iam_policy_document.submit.statement : s.resources if s.sid == "RunDriftJobs"]) == toset(["arn:aws:emr-serverless:eu-west-1:111122223333:/applications/00fabcdefg123456", "arn:aws:emr-serverless:eu-west-1:111122223333:/applications/00fabcdefg123456/jobruns/*"])
    error_message = "the submitter starts, reads and cancels runs of this application only"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.submit.statement : s.resources if s.sid == "PassOnlyTheJobRole"]) == toset(["arn:aws:iam::111122223333:role/mlops-prod-drift-emr-job"])
    error_message = "iam:PassRole must name the job role only"
  }
  assert {
    condition     = output.code_uri == "s3://mlops-prod-artifacts-111122223333/emr/drift"
    error_message = "the code URI is the code bucket's code prefix"
  }
}

run "no_subnets_is_refused" {
  command = plan
  variables {
    subnet_ids = []
  }
  expect_failures = [var.subnet_ids]
}

run "an_emr_6_release_is_refused" {
  command = plan
  variables {
    release_label = "emr-6.15.0"
  }
  expect_failures = [var.release_label]
}
