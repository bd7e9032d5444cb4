# prod: the settings `make ... ENV=prod` reads (the Makefile includes this file).
# The smoke test's target, after each deploy (Jenkins: mlopsDeploy).
{%- if cookiecutter.serving_target == "eks" %}
SERVING_URL ?= http://mlops-serve-{{ cookiecutter.project_slug }}.mlops-{{ cookiecutter.project_slug }}.svc.cluster.local
# The kubectl context `make deploy ENV=prod` applies deploy/k8s/overlays/prod to.
KUBE_CONTEXT ?= mlops-prod
{%- else %}
# The platform's prod load balancer: `terraform -chdir=terraform/envs/prod output service_url` in the platform.
SERVING_URL ?= https://mlops-prod.example.com
{%- endif %}
