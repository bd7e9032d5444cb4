terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Remote state in the bucket that terraform/bootstrap creates, locked by S3 native locking (a <key>.tflock object
  # beside the state, written with a conditional put: no DynamoDB table). The bucket, key and region come from
  # `mlops infra` (-backend-config), so no account-specific name is written here.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
}
