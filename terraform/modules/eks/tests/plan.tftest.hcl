# Plan-level assertions with a mocked provider (no account needed): run by tests/unit/test_terraform_plan.py.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name             = "mlops-prod"
  vpc_id           = "vpc-0123456789abcdef0"
  vpc_cidr         = "10.30.0.0/16"
  subnet_ids       = ["subnet-aaaa", "subnet-bbbb"]
  kms_key_arn      = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
  logs_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
}

run "private_endpoint_all_logs_encrypted_secrets_imdsv2" {
  command = plan

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_public_access == false && aws_eks_cluster.this.vpc_config[0].endpoint_private_access
    error_message = "the API endpoint must be private unless CIDRs are listed"
  }
  assert {
    condition     = length(aws_eks_cluster.this.enabled_cluster_log_types) == 5 && aws_cloudwatch_log_group.cluster.kms_key_id == var.logs_kms_key_arn
    error_message = "all five control-plane log types into a KMS-encrypted group"
  }
  assert {
    condition     = aws_eks_cluster.this.encryption_config[0].provider[0].key_arn == var.kms_key_arn
    error_message = "secrets must be envelope-encrypted with the CMK"
  }
  assert {
    condition     = aws_launch_template.node.metadata_options[0].http_tokens == "required" && aws_launch_template.node.block_device_mappings[0].ebs[0].encrypted == "true"
    error_message = "nodes must require IMDSv2 and encrypt their volumes"
  }
  assert {
    condition     = aws_launch_template.node.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDS hop limit must be 1 on the nodes: pods take AWS credentials from IRSA, never from the node role"
  }
}

run "a_world_open_api_is_refused" {
  command = plan
  variables {
    public_access_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.public_access_cidrs]
}

# IRSA: each role trusts exactly its workload's service accounts in its namespace (serving: one per color), for the
# sts.amazonaws.com audience only, and the `workloads` output says so with the role's ARN.
run "irsa_trusts_exactly_the_listed_service_accounts" {
  command = plan
  variables {
    workloads = {
      serving = { namespace = "mlops-prod", service_accounts = ["mlops-serve-blue", "mlops-serve-green"], policy_json = "{}" }
      drift   = { namespace = "mlops-prod", service_accounts = ["mlops-drift"], policy_json = "{}" }
    }
  }

  assert {
    condition = toset(flatten([
      for c in data.aws_iam_policy_document.workload_assume["serving"].statement[0].condition : c.values
      if anytrue([for v in c.values : startswith(v, "system:serviceaccount:")])
      ])) == toset([
      "system:serviceaccount:mlops-prod:mlops-serve-blue", "system:serviceaccount:mlops-prod:mlops-serve-green",
    ])
    error_message = "the serving role must trust exactly mlops-prod/mlops-serve-blue and mlops-prod/mlops-serve-green"
  }
  assert {
    condition = toset(flatten([
      for c in data.aws_iam_policy_document.workload_assume["drift"].statement[0].condition : c.values
      if anytrue([for v in c.values : startswith(v, "system:serviceaccount:")])
    ])) == toset(["system:serviceaccount:mlops-prod:mlops-drift"])
    error_message = "the drift role must trust exactly mlops-prod/mlops-drift"
  }
  assert {
    condition     = output.workloads.serving.namespace == "mlops-prod" && join(",", output.workloads.serving.service_accounts) == "mlops-serve-blue,mlops-serve-green" && join(",", output.workloads.drift.service_accounts) == "mlops-drift"
    error_message = "the workloads output must give each workload's namespace and service accounts"
  }
}

run "a_workload_without_service_accounts_is_refused" {
  command = plan
  variables {
    workloads = { serving = { namespace = "mlops-prod", service_accounts = [], policy_json = "{}" } }
  }
  expect_failures = [var.workloads]
}

run "a_service_account_name_kubernetes_would_refuse_is_refused" {
  command = plan
  variables {
    workloads = { serving = { namespace = "mlops-prod", service_accounts = ["Mlops_Serve"], policy_json = "{}" } }
  }
  expect_failures = [var.workloads]
}
