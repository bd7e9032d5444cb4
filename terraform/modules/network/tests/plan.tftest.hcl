# Plan-level assertions with a mocked provider (no account needed): run by tests/unit/test_terraform_plan.py.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name             = "mlops-prod"
  cidr             = "10.30.0.0/16"
  azs              = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  logs_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
}

run "flow_logs_encrypted_no_public_ips" {
  command = plan

  assert {
    condition     = aws_cloudwatch_log_group.flow.kms_key_id == var.logs_kms_key_arn && aws_cloudwatch_log_group.flow.retention_in_days == 365 && aws_flow_log.this.traffic_type == "ALL"
    error_message = "flow logs must capture ALL traffic into a KMS-encrypted group kept 365 days"
  }
  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false]) && length(aws_subnet.private) == 3
    error_message = "no subnet may hand out public IPs; one private subnet per AZ"
  }
}

run "a_bad_cidr_is_refused" {
  command = plan
  variables {
    cidr = "10.0.0.0/33"
  }
  expect_failures = [var.cidr]
}
