# prod: the platform's prod resources this model uses. The names follow the platform's modules (terraform/modules/s3:
# mlops-prod-<bucket>-<account>); check them with `terraform -chdir=terraform/envs/prod output` in the platform.
environment         = "prod"
data_bucket_arn     = "arn:aws:s3:::mlops-prod-data-{{ cookiecutter.aws_account_id }}"
artifact_bucket_arn = "arn:aws:s3:::mlops-prod-artifacts-{{ cookiecutter.aws_account_id }}"
capture_bucket_arn  = "arn:aws:s3:::mlops-prod-capture-{{ cookiecutter.aws_account_id }}"
kms_key_arn         = "arn:aws:kms:{{ cookiecutter.aws_region }}:{{ cookiecutter.aws_account_id }}:key/00000000-0000-0000-0000-000000000000"
alert_topic_arn     = "arn:aws:sns:{{ cookiecutter.aws_region }}:{{ cookiecutter.aws_account_id }}:mlops-prod-alerts"
{%- if cookiecutter.serving_target == "eks" %}
oidc_provider_arn   = "arn:aws:iam::{{ cookiecutter.aws_account_id }}:oidc-provider/oidc.eks.{{ cookiecutter.aws_region }}.amazonaws.com/id/EXAMPLE"
oidc_provider_url   = "oidc.eks.{{ cookiecutter.aws_region }}.amazonaws.com/id/EXAMPLE"
{%- endif %}
