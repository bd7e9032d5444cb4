# Per-color alarms: the ones a canary watches while it moves traffic to the new color (deploy_targets.alarm_names).
# modules/cloudwatch watches one target group (blue); these follow each color's own target group, so whichever
# color is new, its errors, latency and health can roll the deploy back. Thresholds as modules/cloudwatch's.
locals {
  canary_error_rate   = 0.01 # share of requests answered 5xx
  canary_latency_p99  = 0.5  # seconds
  canary_min_healthy  = var.serving_min_size > 0 ? var.serving_min_size : 1
  canary_alarm_action = [module.cloudwatch.alert_topic_arn]
  color_dims = {
    for color in local.colors : color => {
      LoadBalancer = module.alb.arn_suffix
      TargetGroup  = module.alb.target_group_arn_suffixes[color]
    }
  }
}

locals {
  canary_alarm_names = flatten([
    for color in local.colors : [
      aws_cloudwatch_metric_alarm.color_error_rate[color].alarm_name,
      aws_cloudwatch_metric_alarm.color_latency_p99[color].alarm_name,
      aws_cloudwatch_metric_alarm.color_healthy_hosts[color].alarm_name,
    ]
  ])
}

resource "aws_cloudwatch_metric_alarm" "color_error_rate" {
  for_each            = toset(local.colors)
  alarm_name          = "${local.name}-${each.key}-5xx-rate"
  alarm_description   = "Share of requests the ${each.key} targets answer with a 5xx is above ${local.canary_error_rate * 100}%."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = local.canary_error_rate
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.canary_alarm_action
  ok_actions          = local.canary_alarm_action
  tags                = merge(local.tags, { Color = each.key })

  metric_query {
    id          = "rate"
    expression  = "FILL(t5xx, 0) / MAX([requests, 1])"
    label       = "${each.key} 5xx share"
    return_data = true
  }
  metric_query {
    id = "t5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.color_dims[each.key]
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.color_dims[each.key]
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "color_latency_p99" {
  for_each            = toset(local.colors)
  alarm_name          = "${local.name}-${each.key}-latency-p99"
  alarm_description   = "p99 response time of the ${each.key} targets is above ${local.canary_latency_p99} s."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.color_dims[each.key]
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.canary_latency_p99
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.canary_alarm_action
  ok_actions          = local.canary_alarm_action
  tags                = merge(local.tags, { Color = each.key })
}

resource "aws_cloudwatch_metric_alarm" "color_healthy_hosts" {
  for_each            = toset(local.colors)
  alarm_name          = "${local.name}-${each.key}-healthy-hosts"
  alarm_description   = "Fewer than ${local.canary_min_healthy} healthy ${each.key} targets."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = local.color_dims[each.key]
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = local.canary_min_healthy
  treat_missing_data  = "breaching" # no data from a target group means nothing healthy behind it
  alarm_actions       = local.canary_alarm_action
  ok_actions          = local.canary_alarm_action
  tags                = merge(local.tags, { Color = each.key })
}
