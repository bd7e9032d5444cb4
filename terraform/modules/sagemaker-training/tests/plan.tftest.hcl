# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The training jobs' role (trusted by SageMaker for this account's jobs of this env only; reads the DVC objects, the
# source and manifests, writes the job output, the key, its log group, the one ECR repository, ENIs in this VPC) and
# their security group (HTTPS to the S3 gateway endpoint only). The submit side: tests/integration/test_retrain_sagemaker.py.
mock_provider "aws" {
  source          = "../../testing/aws" # the shared mocked data sources
  override_during = plan
  mock_data "aws_vpc_endpoint" {
    defaults = { prefix_list_id = "pl-6ea54007" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/mlops-prod-sagemaker-training" }
  }
  mock_resource "aws_security_group" {
    defaults = { arn = "arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0123456789abcdef0", id = "sg-0123456789abcdef0" }
  }
}

variables {
  name                 = "mlops-prod"
  vpc_id               = "vpc-0123456789abcdef0"
  subnet_ids           = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  s3_endpoint_id       = "vpce-0123456789abcdef0"
  data_bucket_arn      = "arn:aws:s3:::mlops-prod-data-111122223333"
  artifacts_bucket_arn = "arn:aws:s3:::mlops-prod-artifacts-111122223333"
  kms_key_arn          = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
  logs_kms_key_arn     = "arn:aws:kms:eu-west-1:111122223333:key/11111111-1111-1111-1111-111111111111"
  ecr_repository_arn   = "arn:aws:ecr:eu-west-1:111122223333:repository/mlops-training"
}

run "the_role_is_trusted_by_this_envs_training_jobs_only" {
  command = plan

  assert {
    condition     = one(data.aws_iam_policy_document.trust.statement[0].principals).identifiers == toset(["sagemaker.amazonaws.com"])
    error_message = "only SageMaker may assume the training role"
  }
  assert {
    condition     = [for c in data.aws_iam_policy_document.trust.statement[0].condition : toset(c.values) if c.variable == "aws:SourceAccount"][0] == toset(["111122223333"])
    error_message = "the trust must be limited to this account (aws:SourceAccount)"
  }
  assert {
    condition     = [for c in data.aws_iam_policy_document.trust.statement[0].condition : toset(c.values) if c.variable == "aws:SourceArn"][0] == toset(["arn:aws:sagemaker:eu-west-1:111122223333:training-job/mlops-prod-*"])
    error_message = "the trust must be limited to this env's training jobs (aws:SourceArn)"
  }
  assert {
    condition     = output.job_name_prefix == "mlops-prod" && output.role_arn == "arn:aws:iam::111122223333:role/mlops-prod-sagemaker-training"
    error_message = "the job names default to the env's name; the role ARN is an output"
  }
}

run "the_role_reads_the_channels_writes_the_output_and_nothing_else" {
  command = plan

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.this.statement : s.resources if contains(s.actions, "s3:GetObject")])) == toset(["arn:aws:s3:::mlops-prod-data-111122223333/dvc/*/files/md5/*", "arn:aws:s3:::mlops-prod-artifacts-111122223333/sagemaker/*/source/*", "arn:aws:s3:::mlops-prod-artifacts-111122223333/sagemaker/*/input/*"])
    error_message = "reads are the DVC objects, the source and the manifests only"
  }
  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.this.statement : s.resources if contains(s.actions, "s3:PutObject")])) == toset(["arn:aws:s3:::mlops-prod-artifacts-111122223333/sagemaker/*/output/*"])
    error_message = "the only write is the job output"
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.this.statement : toset(s.resources) != toset(["*"]) || alltrue([for a in s.actions : contains(["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"], a)])])
    error_message = "Resource * only for the calls that take no narrower resource"
  }
  assert {
    condition     = toset([for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "PullTheTrainingImage"][0]) == toset(["arn:aws:ecr:eu-west-1:111122223333:repository/mlops-training"])
    error_message = "the image is pulled from the one repository"
  }
  assert {
    condition     = toset([for s in data.aws_iam_policy_document.this.statement : one(s.condition).values if s.sid == "EnisInThisVpc"][0]) == toset(["arn:aws:ec2:eu-west-1:111122223333:vpc/vpc-0123456789abcdef0"])
    error_message = "network interfaces only in the env's VPC"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.this.statement : s if contains(s.actions, "iam:PassRole") || contains(s.actions, "sts:AssumeRole")]) == 0
    error_message = "the training role hands no role on"
  }
}

run "egress_is_https_to_the_s3_endpoint_only_and_the_logs_are_encrypted" {
  command = plan

  assert {
    condition     = aws_vpc_security_group_egress_rule.s3.prefix_list_id == "pl-6ea54007" && aws_vpc_security_group_egress_rule.s3.from_port == 443 && aws_vpc_security_group_egress_rule.s3.to_port == 443
    error_message = "the jobs' only egress is HTTPS to the S3 gateway endpoint"
  }
  assert {
    condition     = aws_cloudwatch_log_group.jobs[0].name == "/aws/sagemaker/TrainingJobs" && aws_cloudwatch_log_group.jobs[0].kms_key_id == var.logs_kms_key_arn
    error_message = "the jobs' log group is SageMaker's, encrypted with the env's logs key"
  }
}

run "the_submitter_runs_this_envs_jobs_and_passes_this_role_only" {
  command = plan

  assert {
    condition     = toset([for s in data.aws_iam_policy_document.submit.statement : s.resources if s.sid == "RunTrainingJobsOfThisEnv"][0]) == toset(["arn:aws:sagemaker:eu-west-1:111122223333:training-job/mlops-prod-*"])
    error_message = "the submitter creates, watches and stops this env's jobs only"
  }
  assert {
    condition     = toset([for s in data.aws_iam_policy_document.submit.statement : s.resources if s.sid == "PassOnlyTheTrainingRole"][0]) == toset(["arn:aws:iam::111122223333:role/mlops-prod-sagemaker-training"])
    error_message = "the submitter passes the training role and no other"
  }
}

run "one_env_per_account_manages_the_log_group" {
  command = plan
  variables {
    manage_log_group = false
    job_name_prefix  = "mlops-dev"
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.jobs) == 0 && output.job_name_prefix == "mlops-dev"
    error_message = "without manage_log_group the account's group is left alone"
  }
}

run "a_job_needs_a_subnet" {
  command = plan
  variables {
    subnet_ids = []
  }
  expect_failures = [var.subnet_ids]
}
