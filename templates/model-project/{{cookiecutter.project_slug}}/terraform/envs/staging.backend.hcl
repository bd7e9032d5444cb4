bucket = "mlops-staging-tfstate"
key    = "models/{{ cookiecutter.project_slug }}/terraform.tfstate"
region = "{{ cookiecutter.aws_region }}"
