variable "name" {
  description = "Name of the repository (MLOPS_ECR_REPOSITORY, whose default is mlops-serve)."
  type        = string
  default     = "mlops-serve"

  validation {
    condition     = can(regex("^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$", var.name)) && length(var.name) >= 2 && length(var.name) <= 256
    error_message = "name must be an ECR repository name: 2-256 lowercase letters, digits, '.', '_', '-' and '/' (e.g. mlops-serve)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key the images are encrypted with (the env's data key)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "untagged_image_expiry_days" {
  description = "Days after its push an untagged image (a layer left behind by a re-push or a failed build) is expired."
  type        = number
  default     = 14

  validation {
    condition     = var.untagged_image_expiry_days >= 1 && var.untagged_image_expiry_days <= 365 && floor(var.untagged_image_expiry_days) == var.untagged_image_expiry_days
    error_message = "untagged_image_expiry_days must be a whole number of days from 1 to 365."
  }
}

variable "tagged_images_to_keep" {
  description = "How many tagged images are kept (the most recently pushed); older ones are expired. Keep it above the number of releases a rollback may go back to."
  type        = number
  default     = 100

  validation {
    condition     = var.tagged_images_to_keep >= 10 && var.tagged_images_to_keep <= 10000 && floor(var.tagged_images_to_keep) == var.tagged_images_to_keep
    error_message = "tagged_images_to_keep must be a whole number from 10 to 10000 (fewer would expire images a rollback still needs)."
  }
}

variable "force_delete" {
  description = "Let terraform destroy delete the repository while it still holds images (dev only, for teardown)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the repository."
  type        = map(string)
  default     = {}
}
