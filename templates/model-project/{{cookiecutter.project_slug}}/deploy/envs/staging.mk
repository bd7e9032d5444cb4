# staging: the settings `make ... ENV=staging` reads (the Makefile includes this file).
# The smoke test's target, after each deploy (Jenkins: mlopsDeploy).
{%- if cookiecutter.serving_target == "eks" %}
SERVING_URL ?= http://mlops-serve-{{ cookiecutter.project_slug }}.mlops-{{ cookiecutter.project_slug }}.svc.cluster.local
# The kubectl context `make deploy ENV=staging` applies deploy/k8s/overlays/staging to.
KUBE_CONTEXT ?= mlops-staging
{%- else %}
# The platform's staging load balancer: `terraform -chdir=terraform/envs/staging output service_url` in the platform.
SERVING_URL ?= https://mlops-staging.example.com
{%- endif %}
