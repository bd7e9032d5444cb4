# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The serving image repository: immutable tags, scan on push, the env's CMK, a lifecycle policy, no force delete
# unless asked for.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
}

run "immutable_scanned_cmk_encrypted_and_expiring" {
  command = plan

  assert {
    condition     = aws_ecr_repository.this.name == "mlops-serve"
    error_message = "the repository must default to MLOPS_ECR_REPOSITORY's default, mlops-serve"
  }
  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "tags must be immutable: a tag a deploy pinned must never point at another image"
  }
  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "every push must be scanned"
  }
  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS" && aws_ecr_repository.this.encryption_configuration[0].kms_key == var.kms_key_arn
    error_message = "images must be encrypted with the given CMK"
  }
  assert {
    condition     = !aws_ecr_repository.this.force_delete
    error_message = "force_delete must be off unless asked for"
  }
  assert {
    condition = (
      jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].selection == { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 14 } &&
      jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[1].selection == { tagStatus = "tagged", tagPatternList = ["*"], countType = "imageCountMoreThan", countNumber = 100 } &&
      alltrue([for rule in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : rule.action.type == "expire"])
    )
    error_message = "untagged images must expire after 14 days and only the newest 100 tagged images be kept"
  }
}

run "sizes_and_teardown_come_from_the_variables" {
  command = plan
  variables {
    name                       = "team/serve"
    untagged_image_expiry_days = 3
    tagged_images_to_keep      = 20
    force_delete               = true
  }

  assert {
    condition = (
      aws_ecr_repository.this.name == "team/serve" && aws_ecr_repository.this.force_delete &&
      jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].selection.countNumber == 3 &&
      jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[1].selection.countNumber == 20
    )
    error_message = "name, expiry, images kept and force_delete must follow the variables"
  }
}

run "keeping_too_few_tagged_images_is_refused" {
  command = plan
  variables {
    tagged_images_to_keep = 1
  }
  expect_failures = [var.tagged_images_to_keep]
}

run "a_fractional_or_zero_expiry_is_refused" {
  command = plan
  variables {
    untagged_image_expiry_days = 0.5
  }
  expect_failures = [var.untagged_image_expiry_days]
}

run "an_invalid_repository_name_is_refused" {
  command = plan
  variables {
    name = "Mlops_Serve"
  }
  expect_failures = [var.name]
}
