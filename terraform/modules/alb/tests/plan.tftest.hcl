# Plan-level assertions with a mocked provider (no account needed): run by tests/unit/test_terraform_plan.py.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name              = "mlops-prod"
  vpc_id            = "vpc-0123456789abcdef0"
  vpc_cidr          = "10.30.0.0/16"
  subnet_ids        = ["subnet-aaaa", "subnet-bbbb"]
  ingress_cidrs     = ["10.30.0.0/16"]
  certificate_arn   = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
  access_log_bucket = "mlops-prod-logs-111122223333"
}

run "https_only_with_a_tls12_policy_and_hardening" {
  command = plan

  assert {
    condition     = aws_lb_listener.https.port == 443 && aws_lb_listener.https.protocol == "HTTPS" && aws_lb_listener.https.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "443 must be HTTPS with the TLS 1.2+ policy"
  }
  assert {
    condition     = aws_lb_listener.http_redirect.default_action[0].redirect[0].protocol == "HTTPS"
    error_message = "port 80 must only redirect to HTTPS"
  }
  assert {
    condition     = aws_lb.this.drop_invalid_header_fields && aws_lb.this.enable_deletion_protection && aws_lb.this.access_logs[0].enabled
    error_message = "invalid headers dropped, deletion protection and access logs must be on by default"
  }
}

run "a_tls10_policy_is_refused" {
  command = plan
  variables {
    ssl_policy = "ELBSecurityPolicy-2016-08"
  }
  expect_failures = [var.ssl_policy]
}

# blue/green: blue takes all traffic at create, green none (the canary moves the weights later; the listener
# ignores them after create). apply, not plan: the mocked ARNs must be known to tell the colors apart.
run "blue_takes_all_traffic_at_create" {
  command = apply

  override_resource {
    target = aws_lb.this
    values = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/mlops-prod/1" }
  }
  override_resource {
    target = aws_lb_target_group.this["blue"]
    values = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/mlops-prod-blue/1" }
  }
  override_resource {
    target = aws_lb_target_group.this["green"]
    values = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/mlops-prod-green/2" }
  }

  assert {
    condition     = toset(keys(aws_lb_target_group.this)) == toset(["blue", "green"]) && aws_lb_target_group.this["green"].name == "mlops-prod-green"
    error_message = "the target groups must be blue and green, named after the load balancer"
  }
  assert {
    condition = {
      for tg in aws_lb_listener.https.default_action[0].forward[0].target_group : tg.arn => tg.weight
      } == {
      (aws_lb_target_group.this["blue"].arn)  = 100
      (aws_lb_target_group.this["green"].arn) = 0
    }
    error_message = "the HTTPS listener must forward 100% to blue and 0% to green at create"
  }
}
