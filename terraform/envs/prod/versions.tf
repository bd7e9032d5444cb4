terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Remote state in the bucket and lock table that terraform/bootstrap creates. The bucket, table and region
  # come from `mlops infra` (-backend-config), so no account-specific name is written here.
  backend "s3" {
    encrypt = true
  }
}

provider "aws" {
  region = var.region
}
