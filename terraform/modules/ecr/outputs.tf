output "repository_url" {
  description = "URL of the repository, <account>.dkr.ecr.<region>.amazonaws.com/<name> (docker push/pull)."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = aws_ecr_repository.this.arn
}

output "repository_name" {
  description = "Name of the repository (MLOPS_ECR_REPOSITORY)."
  value       = aws_ecr_repository.this.name
}
