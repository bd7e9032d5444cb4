# The serving image repository: immutable tags (a tag a deploy pinned can never point at another image), a
# vulnerability scan on every push, images encrypted with the env's data key, and a lifecycle policy so old
# images do not pile up.
resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete
  tags                 = var.tags

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

# Untagged images first (a lower rulePriority is evaluated first), then every tagged image beyond the newest
# tagged_images_to_keep. tagPatternList ["*"] selects every tagged image, whatever its tag.
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images ${var.untagged_image_expiry_days} days after their push"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_image_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest ${var.tagged_images_to_keep} tagged images"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = ["*"]
          countType      = "imageCountMoreThan"
          countNumber    = var.tagged_images_to_keep
        }
        action = { type = "expire" }
      },
    ]
  })
}
