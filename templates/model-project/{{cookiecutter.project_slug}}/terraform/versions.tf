terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # state lives with the platform's other state; `make plan` passes -backend-config=envs/<env>.backend.hcl
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      model      = "{{ cookiecutter.project_slug }}"
      owner      = "{{ cookiecutter.owner }}"
      managed-by = "terraform"
    }
  }
}
