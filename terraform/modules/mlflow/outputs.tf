output "tracking_uri" {
  description = "What clients set as MLFLOW_TRACKING_URI: the tracking server's ARN (the sagemaker-mlflow plugin must be installed; calls are signed with the caller's AWS credentials). Known at plan."
  value       = local.arn
  depends_on  = [aws_sagemaker_mlflow_tracking_server.this] # whoever reads it waits for the server
}

output "tracking_server_arn" {
  description = "ARN of the tracking server (scopes the sagemaker-mlflow actions of the workloads' policies). Known at plan."
  value       = local.arn # no depends_on: an IAM policy may name the server before it exists
}

output "tracking_server_url" {
  description = "HTTPS URL of the tracking server's UI and REST API (calls need SigV4 signing; use tracking_uri in clients)."
  value       = aws_sagemaker_mlflow_tracking_server.this.tracking_server_url
}

output "artifact_store_uri" {
  description = "Where the server keeps artifacts: s3://<bucket>/<artifact_prefix>."
  value       = local.artifact_store
}

output "role_arn" {
  description = "ARN of the role SageMaker assumes for the tracking server."
  value       = aws_iam_role.server.arn
}

output "policy_json" {
  description = "The server role's policy document as JSON."
  value       = data.aws_iam_policy_document.server.json
}
