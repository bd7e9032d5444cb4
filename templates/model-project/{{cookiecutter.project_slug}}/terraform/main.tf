# This model's own AWS resources on top of the platform: least-privilege access to its data prefix, its
# capture prefix and the artifacts, the serving role{% if cookiecutter.serving_target == "eks" %} (IRSA){% else %} (EC2 instance profile){% endif %}, and its alarms.
locals {
  name      = "{{ cookiecutter.project_slug }}"
  role_name = "mlops-${var.environment}-${local.name}-serving"
{%- if cookiecutter.serving_target == "eks" %}
  namespace = "mlops-${local.name}"
{%- endif %}
}

module "access" {
  #checkov:skip=CKV_TF_1:the team pins the platform's modules in terraform_modules_source (a ?ref= commit or tag)
  #checkov:skip=CKV_TF_2:as above: the monorepo's version is chosen in terraform_modules_source, not per module
  source = "{{ cookiecutter.terraform_modules_source }}/access-policy"

  read = [
    { bucket_arn = var.data_bucket_arn, prefix = "dvc/${local.name}/" },
    { bucket_arn = var.artifact_bucket_arn, prefix = "" }, # MLflow lays models out by run id, not by model name
  ]
  write = [
    { bucket_arn = var.capture_bucket_arn, prefix = "capture/${local.name}/" },
  ]
  kms_key_arns      = [var.kms_key_arn]
  metrics_namespace = var.metrics_namespace
}
{%- if cookiecutter.serving_target == "eks" %}

# IRSA: only the mlops-serve service account of this model's namespace can assume the role
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_provider_url}:sub"
      values   = ["system:serviceaccount:${local.namespace}:mlops-serve-${local.name}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_provider_url}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}
{%- else %}

# the serving instances of the platform's autoscaling group run as this role
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}
{%- endif %}

resource "aws_iam_role" "this" {
  name               = local.role_name
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "this" {
  name   = "${local.name}-access"
  role   = aws_iam_role.this.id
  policy = module.access.json
}
{%- if cookiecutter.serving_target == "asg" %}

resource "aws_iam_instance_profile" "this" {
  name = local.role_name
  role = aws_iam_role.this.name
}
{%- endif %}
{%- if cookiecutter.include_drift_monitoring == "yes" %}

# `mlops drift run` publishes DatasetDrift (1 = drift) per model; retraining reacts to the drift event itself,
# the alarm tells the owners
resource "aws_cloudwatch_metric_alarm" "drift" {
  alarm_name          = "mlops-${var.environment}-${local.name}-dataset-drift"
  alarm_description   = "{{ cookiecutter.project_slug }}: the live inputs drifted from the training data"
  namespace           = var.metrics_namespace
  metric_name         = "DatasetDrift"
  dimensions          = { Model = local.name }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alert_topic_arn]
  ok_actions          = [var.alert_topic_arn]
}
{%- endif %}
{%- if cookiecutter.include_scheduled_retraining == "yes" %}

# the retraining service counts failed runs per model
resource "aws_cloudwatch_metric_alarm" "retrain_failures" {
  alarm_name          = "mlops-${var.environment}-${local.name}-retrain-failures"
  alarm_description   = "{{ cookiecutter.project_slug }}: a scheduled or triggered retraining run failed"
  namespace           = var.metrics_namespace
  metric_name         = "RetrainFailures"
  dimensions          = { Model = local.name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alert_topic_arn]
}
{%- endif %}
