# dev: the settings `make ... ENV=dev` reads (the Makefile includes this file).
# The smoke test's target: by default `make serve` on this machine, which follows @dev on the local stack.
{%- if cookiecutter.serving_target == "eks" %}
# On a dev cluster: http://mlops-serve-{{ cookiecutter.project_slug }}.mlops-{{ cookiecutter.project_slug }}.svc.cluster.local (the overlay's Service).
{%- else %}
# On the dev autoscaling group: the platform's `terraform -chdir=terraform/envs/dev output service_url`.
{%- endif %}
SERVING_URL ?= http://127.0.0.1:$(PORT)
{%- if cookiecutter.serving_target == "eks" %}
# The kubectl context `make deploy ENV=dev` applies deploy/k8s/overlays/dev to. Empty (the local stack has no
# cluster): the release moves @dev only, and `make serve` follows it. Set it to your dev cluster's context.
KUBE_CONTEXT ?=
{%- endif %}
