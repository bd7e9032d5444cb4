# Logs, alarms and a dashboard for serving, drift and retraining: KMS-encrypted log groups with a retention, an
# encrypted SNS topic for alerts, alarms on the 5xx rate, p99 latency, healthy hosts, the serving groups' capacity
# and instance status checks, the drift share and retrain failures, and one dashboard.
data "aws_region" "current" {}

locals {
  lb_dims = { LoadBalancer = var.alb_arn_suffix }
  actions = [aws_sns_topic.alerts.arn]
  color_alarm_names = {
    for color in keys(var.target_group_arn_suffixes) : color => [
      aws_cloudwatch_metric_alarm.color_error_rate[color].alarm_name,
      aws_cloudwatch_metric_alarm.color_latency_p99[color].alarm_name,
      aws_cloudwatch_metric_alarm.color_healthy_hosts[color].alarm_name,
    ]
  }
}

resource "aws_cloudwatch_log_group" "this" {
  for_each          = toset(var.log_group_names)
  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# The load balancer as a whole: what users see, whichever color serves them.
resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-5xx-rate"
  alarm_description   = "Share of requests answered with a 5xx by the serving targets or the load balancer is above ${var.error_rate_threshold * 100}%."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.error_rate_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "rate"
    expression  = "(FILL(t5xx, 0) + FILL(e5xx, 0)) / MAX([requests, 1])"
    label       = "5xx share"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = { t5xx = "HTTPCode_Target_5XX_Count", e5xx = "HTTPCode_ELB_5XX_Count", requests = "RequestCount" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value
        dimensions  = local.lb_dims
        period      = 60
        stat        = "Sum"
      }
    }
  }
  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "latency_p99" {
  alarm_name          = "${var.name}-latency-p99"
  alarm_description   = "p99 target response time is above ${var.latency_p99_threshold_seconds} s."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.lb_dims
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.latency_p99_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# Per color (target group): what a canary watches while it moves traffic to the new color
# (deploy_targets.alarm_names), so whichever color is new, its errors, latency and health can roll it back.
# Both colors run warm, so each has to keep its healthy hosts.
resource "aws_cloudwatch_metric_alarm" "color_error_rate" {
  for_each            = var.target_group_arn_suffixes
  alarm_name          = "${var.name}-${each.key}-5xx-rate"
  alarm_description   = "Share of requests the ${each.key} targets answer with a 5xx is above ${var.error_rate_threshold * 100}%."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.error_rate_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Color = each.key })

  metric_query {
    id          = "rate"
    expression  = "FILL(t5xx, 0) / MAX([requests, 1])"
    label       = "${each.key} 5xx share"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = { t5xx = "HTTPCode_Target_5XX_Count", requests = "RequestCount" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value
        dimensions  = merge(local.lb_dims, { TargetGroup = each.value })
        period      = 60
        stat        = "Sum"
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "color_latency_p99" {
  for_each            = var.target_group_arn_suffixes
  alarm_name          = "${var.name}-${each.key}-latency-p99"
  alarm_description   = "p99 response time of the ${each.key} targets is above ${var.latency_p99_threshold_seconds} s."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = merge(local.lb_dims, { TargetGroup = each.value })
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.latency_p99_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Color = each.key })
}

resource "aws_cloudwatch_metric_alarm" "color_healthy_hosts" {
  for_each            = var.target_group_arn_suffixes
  alarm_name          = "${var.name}-${each.key}-healthy-hosts"
  alarm_description   = "Fewer than ${var.min_healthy_hosts} healthy ${each.key} targets."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = merge(local.lb_dims, { TargetGroup = each.value })
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = var.min_healthy_hosts
  treat_missing_data  = "breaching" # no data from a target group means nothing healthy behind it
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Color = each.key })
}

# Published by `mlops drift check` into the custom namespace, one series per model.
resource "aws_cloudwatch_metric_alarm" "drift" {
  for_each            = toset(var.model_names)
  alarm_name          = "${var.name}-drift-${each.value}"
  alarm_description   = "Share of drifted features of ${each.value} is at or above ${var.drift_share_threshold}."
  namespace           = var.metrics_namespace
  metric_name         = "DriftShare" # as `mlops drift run` publishes it (mlops.drift.publish)
  dimensions          = { Model = each.value }
  statistic           = "Maximum"
  period              = var.drift_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.drift_share_threshold
  # every `mlops drift run` publishes DriftShare, drift or not: a period without it means the scheduled drift job
  # is dead or failing, and silence must not read as "no drift"
  treat_missing_data = "breaching"
  alarm_actions      = local.actions
  tags               = var.tags
}

# Published by `mlops drift run` when the performance estimated from prediction probabilities (CBPE) fell more than
# its tolerance below the reference: accuracy is dropping before any label has arrived.
resource "aws_cloudwatch_metric_alarm" "estimated_performance" {
  for_each            = toset(var.model_names)
  alarm_name          = "${var.name}-estimated-performance-${each.value}"
  alarm_description   = "Estimated (label-free) performance of ${each.value} dropped beyond its tolerance."
  namespace           = var.metrics_namespace
  metric_name         = "EstimatedPerformanceDrift" # mlops.drift.publish
  dimensions          = { Model = each.value }
  statistic           = "Maximum"
  period              = var.drift_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  # published only when the model has prediction probabilities to estimate from: no data is normal for the others
  # (a dead drift job raises the drift alarm above)
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  tags               = var.tags
}

# Published by the retraining service on a failed retrain (mlops.retraining.metrics: alert_failure).
resource "aws_cloudwatch_metric_alarm" "retrain_failures" {
  for_each            = toset(var.model_names)
  alarm_name          = "${var.name}-retrain-failed-${each.value}"
  alarm_description   = "A retrain of ${each.value} failed after its retries; the champion was left unchanged."
  namespace           = var.metrics_namespace
  metric_name         = "RetrainFailures"
  dimensions          = { Model = each.value }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  # RetrainFailures is published only on a failure (there is no success or heartbeat sample), so no data is the
  # normal state and "breaching" would page every hour; a dead retraining service is caught by Prometheus's
  # MlopsRetrainStale alert (monitoring/prometheus/rules/alerts.yml)
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  tags               = var.tags
}

# Published by `mlops retrain serve` after every poll (mlops.retraining.metrics: publish_heartbeat), work or not:
# the failure alarm above cannot tell a dead service from a quiet one, this one can.
resource "aws_cloudwatch_metric_alarm" "retrain_heartbeat" {
  for_each            = toset(var.retrained_models)
  alarm_name          = "${var.name}-retrain-heartbeat-${each.value}"
  alarm_description   = "The retraining service has not reported for ${each.value} in ${var.retrain_heartbeat_period_seconds} s: it is down or stuck, and neither schedules nor drift events retrain it."
  namespace           = var.metrics_namespace
  metric_name         = "RetrainServiceHeartbeat"
  dimensions          = { Model = each.value }
  statistic           = "SampleCount"
  period              = var.retrain_heartbeat_period_seconds
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching" # the heartbeat's absence is the signal
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# Per serving group (blue and green, both warm): instances in service below the group's minimum (the group's own
# metric; serving-asg turns on its metrics collection) and failed EC2 status checks of its instances (the
# AutoScalingGroupName dimension aggregates them).
resource "aws_cloudwatch_metric_alarm" "group_in_service" {
  for_each            = { for k, g in var.autoscaling_groups : k => g if g.min_size > 0 }
  alarm_name          = "${var.name}-${each.key}-in-service"
  alarm_description   = "Fewer than ${each.value.min_size} in-service instances in the ${each.key} serving group for 5 minutes."
  namespace           = "AWS/AutoScaling"
  metric_name         = "GroupInServiceInstances"
  dimensions          = { AutoScalingGroupName = each.value.name }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 5 # a replacement or a rolling deploy dips for a minute or two; five minutes is lost capacity
  comparison_operator = "LessThanThreshold"
  threshold           = each.value.min_size
  treat_missing_data  = "breaching" # a group that reports nothing (gone, metrics collection off) serves nothing
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Color = each.key })
}

resource "aws_cloudwatch_metric_alarm" "group_status_check" {
  for_each            = var.autoscaling_groups
  alarm_name          = "${var.name}-${each.key}-status-check"
  alarm_description   = "An instance of the ${each.key} serving group fails its EC2 instance or system status check."
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed"
  dimensions          = { AutoScalingGroupName = each.value.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching" # no instances, no checks: the in-service alarm covers an empty group
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Color = each.key })
}

# The same figures as the Grafana dashboard (monitoring/grafana/dashboards/mlops.json): the load
# balancer's view on top, then per model what serving (MLOPS_CLOUDWATCH_METRICS=true), drift and retraining
# publish to the custom namespace (dimension Model).
resource "aws_cloudwatch_dashboard" "serving" {
  dashboard_name = "${var.name}-serving-and-drift"
  dashboard_body = jsonencode({
    widgets = concat([
      {
        type = "metric", x = 0, y = 0, width = 8, height = 6
        properties = {
          title  = "Load balancer: requests and 5xx"
          region = data.aws_region.current.name
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix],
            ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix],
            ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix],
          ]
        }
      },
      {
        type = "metric", x = 8, y = 0, width = 8, height = 6
        properties = {
          title  = "Load balancer: latency p50 / p99 (s)"
          region = data.aws_region.current.name
          period = 60
          metrics = [
            ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p50" }],
            ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p99" }],
          ]
          annotations = { horizontal = [{ label = "alarm", value = var.latency_p99_threshold_seconds }] }
        }
      },
      {
        type = "metric", x = 16, y = 0, width = 8, height = 6
        properties = {
          title  = "Load balancer: healthy targets by color"
          region = data.aws_region.current.name
          stat   = "Minimum"
          period = 60
          metrics = [for color, suffix in var.target_group_arn_suffixes :
            ["AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", suffix, { label = color }]
          ]
        }
      },
      ],
      flatten([for i, model in var.model_names : [
        {
          type = "metric", x = 0, y = 6 + 6 * i, width = 6, height = 6
          properties = {
            title  = "Serving requests and errors: ${model}"
            region = data.aws_region.current.name
            stat   = "Sum"
            period = 60
            metrics = [
              [var.metrics_namespace, "ServingRequests", "Model", model],
              [var.metrics_namespace, "Serving4xxErrors", "Model", model],
              [var.metrics_namespace, "Serving5xxErrors", "Model", model],
              # a 0/1 sample per request: the average is the 5xx ratio
              [var.metrics_namespace, "Serving5xxErrors", "Model", model, { stat = "Average", yAxis = "right", label = "5xx ratio" }],
            ]
          }
        },
        {
          type = "metric", x = 6, y = 6 + 6 * i, width = 6, height = 6
          properties = {
            title  = "Serving latency p50 / p99 (s): ${model}"
            region = data.aws_region.current.name
            period = 60
            metrics = [
              [var.metrics_namespace, "ServingLatency", "Model", model, { stat = "p50" }],
              [var.metrics_namespace, "ServingLatency", "Model", model, { stat = "p99" }],
            ]
          }
        },
        {
          type = "metric", x = 12, y = 6 + 6 * i, width = 6, height = 6
          properties = {
            title       = "Drift share: ${model}"
            region      = data.aws_region.current.name
            stat        = "Maximum"
            period      = var.drift_period_seconds
            metrics     = [[var.metrics_namespace, "DriftShare", "Model", model]]
            annotations = { horizontal = [{ label = "alarm", value = var.drift_share_threshold }] }
          }
        },
        {
          type = "metric", x = 18, y = 6 + 6 * i, width = 6, height = 6
          properties = {
            title   = "Retrain failures: ${model}"
            region  = data.aws_region.current.name
            stat    = "Sum"
            period  = 3600
            metrics = [[var.metrics_namespace, "RetrainFailures", "Model", model]]
          }
        },
      ]])
    )
  })
}
