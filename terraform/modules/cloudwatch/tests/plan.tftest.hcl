# Plan-level assertions with a mocked provider (no account needed): run by tests/unit/test_terraform_plan.py.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name                      = "mlops-prod"
  kms_key_arn               = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
  log_group_names           = ["/mlops/prod/serving", "/mlops/prod/drift"]
  alb_arn_suffix            = "app/mlops-prod/1"
  target_group_arn_suffixes = { blue = "targetgroup/mlops-prod-blue/1", green = "targetgroup/mlops-prod-green/2" }
  model_names               = ["demo-model"]
}

run "logs_and_alerts_are_encrypted_and_kept_a_year" {
  command = plan

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.kms_key_id == var.kms_key_arn && g.retention_in_days == 365])
    error_message = "log groups must be KMS-encrypted and kept 365 days by default"
  }
  assert {
    condition     = aws_sns_topic.alerts.kms_master_key_id == var.kms_key_arn
    error_message = "the alert topic must be KMS-encrypted"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.latency_p99.extended_statistic == "p99" && aws_cloudwatch_metric_alarm.drift["demo-model"].namespace == "MLOps"
    error_message = "p99 latency and drift alarms must exist"
  }
}

run "each_color_has_its_own_alarms_and_the_env_alarms_watch_the_whole_load_balancer" {
  command = plan
  variables {
    min_healthy_hosts = 3
  }

  assert {
    condition     = output.color_alarm_names.green == ["mlops-prod-green-5xx-rate", "mlops-prod-green-latency-p99", "mlops-prod-green-healthy-hosts"]
    error_message = "each color needs its error-rate, p99 and healthy-host alarm (what a canary watches)"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.color_healthy_hosts["green"].dimensions.TargetGroup == "targetgroup/mlops-prod-green/2" && aws_cloudwatch_metric_alarm.color_healthy_hosts["green"].threshold == 3 && aws_cloudwatch_metric_alarm.color_healthy_hosts["green"].treat_missing_data == "breaching"
    error_message = "a color with fewer healthy targets than min_healthy_hosts (or none reporting) must alarm"
  }
  assert {
    condition     = join(",", keys(aws_cloudwatch_metric_alarm.latency_p99.dimensions)) == "LoadBalancer"
    error_message = "the env-wide alarms must watch the load balancer, not one color's target group"
  }
}

run "the_dashboard_shows_the_same_figures_as_grafana" {
  command = plan

  assert {
    condition = alltrue([for metric in [
      "ServingRequests", "Serving4xxErrors", "Serving5xxErrors", "ServingLatency", # services/common/cloudwatch_metrics.py
      "DriftShare",                                                                # services/drift/publish.py
      "RetrainFailures",                                                           # services/retraining/metrics.py
      "RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime", "HealthyHostCount",
    ] : strcontains(aws_cloudwatch_dashboard.serving.dashboard_body, "\"${metric}\"")])
    error_message = "the dashboard must name every serving, load balancer, drift and retraining metric"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.serving.dashboard_body, "\"p99\"") && strcontains(aws_cloudwatch_dashboard.serving.dashboard_body, "\"demo-model\"")
    error_message = "the dashboard must show p99 latency per model"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.retrain_failures["demo-model"].metric_name == "RetrainFailures" && aws_cloudwatch_metric_alarm.retrain_failures["demo-model"].dimensions.Model == "demo-model"
    error_message = "a failed retrain must raise an alarm per model"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.estimated_performance["demo-model"].metric_name == "EstimatedPerformanceDrift" && aws_cloudwatch_metric_alarm.estimated_performance["demo-model"].dimensions.Model == "demo-model"
    error_message = "an estimated performance drop must raise an alarm per model"
  }
}

run "an_unsupported_retention_is_refused" {
  command = plan
  variables {
    log_retention_days = 42
  }
  expect_failures = [var.log_retention_days]
}

run "a_dead_drift_job_alarms_and_a_quiet_retrainer_does_not" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.drift["demo-model"].treat_missing_data == "breaching"
    error_message = "every drift run publishes DriftShare: no data means the drift job is dead and must alarm"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.retrain_failures["demo-model"].treat_missing_data == "notBreaching"
    error_message = "RetrainFailures is published only on failures: no data is the normal state"
  }
}

run "each_serving_group_has_capacity_and_status_check_alarms" {
  command = plan
  variables {
    autoscaling_groups = {
      blue  = { name = "mlops-prod-blue-serving-1", min_size = 3 }
      green = { name = "mlops-prod-green-serving-2", min_size = 3 }
    }
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.group_in_service["green"].metric_name == "GroupInServiceInstances" &&
      aws_cloudwatch_metric_alarm.group_in_service["green"].dimensions.AutoScalingGroupName == "mlops-prod-green-serving-2" &&
      aws_cloudwatch_metric_alarm.group_in_service["green"].comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.group_in_service["green"].threshold == 3 &&
      aws_cloudwatch_metric_alarm.group_in_service["green"].treat_missing_data == "breaching"
    )
    error_message = "a serving group with fewer in-service instances than its minimum (or reporting none) must alarm"
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.group_status_check["blue"].namespace == "AWS/EC2" &&
      aws_cloudwatch_metric_alarm.group_status_check["blue"].metric_name == "StatusCheckFailed" &&
      aws_cloudwatch_metric_alarm.group_status_check["blue"].dimensions.AutoScalingGroupName == "mlops-prod-blue-serving-1"
    )
    error_message = "failed status checks of a group's instances must alarm, aggregated by AutoScalingGroupName"
  }
  assert {
    condition     = length(setintersection(output.alarm_names, ["mlops-prod-blue-in-service", "mlops-prod-green-in-service", "mlops-prod-blue-status-check", "mlops-prod-green-status-check"])) == 4
    error_message = "alarm_names must list the serving groups' alarms"
  }
  assert {
    condition     = output.color_alarm_names.green == ["mlops-prod-green-5xx-rate", "mlops-prod-green-latency-p99", "mlops-prod-green-healthy-hosts"]
    error_message = "the alarms a canary watches stay the target group's three"
  }
}

run "a_group_without_a_minimum_gets_no_capacity_alarm" {
  command = plan
  variables {
    autoscaling_groups = { blue = { name = "mlops-dev-blue-serving-1", min_size = 0 } }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.group_in_service) == 0 && length(aws_cloudwatch_metric_alarm.group_status_check) == 1
    error_message = "min_size 0 has no capacity to alarm on; the status checks stay"
  }
}

run "a_dead_retraining_service_alarms_per_model_it_looks_after" {
  command = plan
  variables {
    retrained_models = ["demo-model"]
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.retrain_heartbeat["demo-model"].metric_name == "RetrainServiceHeartbeat" &&
      aws_cloudwatch_metric_alarm.retrain_heartbeat["demo-model"].dimensions.Model == "demo-model" &&
      aws_cloudwatch_metric_alarm.retrain_heartbeat["demo-model"].treat_missing_data == "breaching" &&
      aws_cloudwatch_metric_alarm.retrain_heartbeat["demo-model"].comparison_operator == "LessThanThreshold"
    )
    error_message = "a missing retraining heartbeat must alarm: silence is a dead service"
  }
}

run "no_heartbeat_alarm_where_no_retraining_service_runs" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.retrain_heartbeat) == 0
    error_message = "without retrained_models no service runs, and a breaching heartbeat alarm would page forever"
  }
}
