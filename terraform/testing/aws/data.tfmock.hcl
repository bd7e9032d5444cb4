# The mocked AWS data sources every module's `terraform test` plans against (no account, no network): loaded by
# `mock_provider "aws" { source = "../../testing/aws" }` in terraform/modules/*/tests/*.tftest.hcl.
mock_data "aws_caller_identity" {
  defaults = { account_id = "111122223333" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}
mock_data "aws_availability_zones" {
  defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
}
mock_data "aws_elb_service_account" {
  defaults = { arn = "arn:aws:iam::156460612806:root" }
}
mock_data "aws_ssm_parameter" {
  defaults = { value = "ami-0123456789abcdef0" }
}
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
mock_data "aws_acm_certificate" {
  defaults = { arn = "arn:aws:acm:eu-west-1:111122223333:certificate/11111111-1111-1111-1111-111111111111" }
}
