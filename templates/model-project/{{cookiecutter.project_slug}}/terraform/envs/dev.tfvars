# dev: ARNs from `terraform -chdir=terraform/envs/dev output` in the platform monorepo.
environment         = "dev"
data_bucket_arn     = "arn:aws:s3:::mlops-dev-data"
artifact_bucket_arn = "arn:aws:s3:::mlops-dev-artifacts"
capture_bucket_arn  = "arn:aws:s3:::mlops-dev-capture"
kms_key_arn         = "arn:aws:kms:{{ cookiecutter.aws_region }}:111122223333:key/00000000-0000-0000-0000-000000000000"
alert_topic_arn     = "arn:aws:sns:{{ cookiecutter.aws_region }}:111122223333:mlops-dev-alerts"
{%- if cookiecutter.serving_target == "eks" %}
oidc_provider_arn   = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.{{ cookiecutter.aws_region }}.amazonaws.com/id/EXAMPLE"
oidc_provider_url   = "oidc.eks.{{ cookiecutter.aws_region }}.amazonaws.com/id/EXAMPLE"
{%- endif %}
