output "log_group_names" {
  description = "Names of the log groups created."
  value       = [for g in aws_cloudwatch_log_group.this : g.name]
}

output "alert_topic_arn" {
  description = "ARN of the KMS-encrypted SNS topic that receives every alarm."
  value       = aws_sns_topic.alerts.arn
}

output "alarm_names" {
  description = "Names of all alarms."
  value = concat(
    [aws_cloudwatch_metric_alarm.error_rate.alarm_name, aws_cloudwatch_metric_alarm.latency_p99.alarm_name],
    flatten(values(local.color_alarm_names)),
    [for a in aws_cloudwatch_metric_alarm.drift : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.estimated_performance : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.retrain_failures : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.group_in_service : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.group_status_check : a.alarm_name],
  )
}

output "color_alarm_names" {
  description = "By color: the alarms on that color's target group (error rate, p99 latency, healthy hosts)."
  value       = local.color_alarm_names
}

output "dashboard_name" {
  description = "Name of the serving, drift and retraining dashboard."
  value       = aws_cloudwatch_dashboard.serving.dashboard_name
}
