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

run "private_endpoint_all_logs_encrypted_secrets" {
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
}

# Auto Mode: compute, block storage and load balancing all on, the nodes on their own role, no self-managed add-ons,
# API-only authentication with no implicit admin, and the managed policies Auto Mode needs on each role.
run "auto_mode_runs_nodes_addons_and_load_balancing" {
  command = plan

  assert {
    condition     = aws_eks_cluster.this.compute_config[0].enabled && toset(aws_eks_cluster.this.compute_config[0].node_pools) == toset(["general-purpose", "system"])
    error_message = "Auto Mode compute must be on with the general-purpose and system node pools"
  }
  assert {
    condition     = aws_eks_cluster.this.kubernetes_network_config[0].elastic_load_balancing[0].enabled && aws_eks_cluster.this.storage_config[0].block_storage[0].enabled
    error_message = "Auto Mode needs load balancing and block storage on together with compute"
  }
  assert {
    condition     = aws_eks_cluster.this.bootstrap_self_managed_addons == false
    error_message = "Auto Mode brings VPC CNI, CoreDNS and kube-proxy: no self-managed copies"
  }
  assert {
    condition     = aws_eks_cluster.this.access_config[0].authentication_mode == "API" && aws_eks_cluster.this.access_config[0].bootstrap_cluster_creator_admin_permissions == false
    error_message = "access entries only, and no admin rights for whoever created the cluster"
  }
  assert {
    condition = toset([for a in aws_iam_role_policy_attachment.cluster : a.policy_arn]) == toset([
      for p in ["AmazonEKSClusterPolicy", "AmazonEKSComputePolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy"] : "arn:aws:iam::aws:policy/${p}"
    ])
    error_message = "the cluster role needs exactly the five managed policies of Auto Mode"
  }
  assert {
    condition     = toset([for a in aws_iam_role_policy_attachment.node : a.policy_arn]) == toset(["arn:aws:iam::aws:policy/AmazonEKSWorkerNodeMinimalPolicy", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"])
    error_message = "Auto Mode nodes need the minimal worker policy and image pulls, nothing more"
  }
  assert {
    condition     = aws_eks_addon.metrics_server.addon_name == "metrics-server"
    error_message = "metrics-server must run (the serving autoscaler's CPU trigger reads resource metrics)"
  }
  assert {
    condition     = length(aws_eks_access_entry.admin) == 0 && length(aws_eks_access_entry.deploy) == 0 && length(aws_iam_role_policy.cluster_targets) == 0 && length(aws_vpc_security_group_ingress_rule.load_balancer_to_pods) == 0
    error_message = "no access entries, target groups or load balancer rule unless asked for"
  }
}

# Access entries: each admin gets cluster admin; the deploy role gets edit in the workloads' namespace only, and
# the Kubernetes group its custom-resource rights are bound to.
run "access_entries_for_admins_and_the_deploy_role" {
  command = plan
  variables {
    admin_principal_arns = ["arn:aws:iam::111122223333:role/platform-admin", "arn:aws:iam::111122223333:user/breakglass"]
    deploy_role_arns     = ["arn:aws:iam::111122223333:role/mlops-prod-deploy-20260101"]
    workloads = {
      serving = { namespace = "mlops-prod", service_accounts = ["mlops-serve-blue", "mlops-serve-green"], policy_json = "{}" }
      drift   = { namespace = "mlops-prod", service_accounts = ["mlops-drift"], policy_json = "{}" }
    }
  }

  assert {
    condition     = toset(keys(aws_eks_access_entry.admin)) == toset(var.admin_principal_arns) && alltrue([for e in aws_eks_access_entry.admin : e.type == "STANDARD"])
    error_message = "one standard access entry per admin principal"
  }
  assert {
    condition = alltrue([
      for a in aws_eks_access_policy_association.admin : a.policy_arn == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" && a.access_scope[0].type == "cluster"
    ]) && length(aws_eks_access_policy_association.admin) == 2
    error_message = "admins get AmazonEKSClusterAdminPolicy on the whole cluster"
  }
  assert {
    condition     = aws_eks_access_entry.deploy[0].principal_arn == "arn:aws:iam::111122223333:role/mlops-prod-deploy-20260101" && toset(aws_eks_access_entry.deploy[0].kubernetes_groups) == toset(["mlops-deployers"])
    error_message = "the deploy role gets an access entry in the mlops-deployers group"
  }
  assert {
    condition     = aws_eks_access_policy_association.deploy[0].policy_arn == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy" && aws_eks_access_policy_association.deploy[0].access_scope[0].type == "namespace" && toset(aws_eks_access_policy_association.deploy[0].access_scope[0].namespaces) == toset(["mlops-prod"])
    error_message = "the deploy role may edit only the workloads' namespace (mlops-prod), never cluster-wide"
  }
}

run "a_deploy_role_without_workloads_is_refused" {
  command = plan
  variables {
    deploy_role_arns = ["arn:aws:iam::111122223333:role/mlops-prod-deploy-20260101"]
  }
  expect_failures = [aws_eks_access_policy_association.deploy]
}

run "a_principal_that_is_not_an_iam_role_or_user_is_refused" {
  command = plan
  variables {
    admin_principal_arns = ["arn:aws:iam::111122223333:group/admins"]
  }
  expect_failures = [var.admin_principal_arns]
}

# The ALB's blue/green target groups: the cluster role (Auto Mode's load balancer controller) may register targets
# in exactly those two, and the pods' port is open to the ALB's security group alone.
run "pods_join_exactly_the_blue_and_green_target_groups" {
  command = plan
  variables {
    target_group_arns = {
      blue  = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/mlops-prod-blue/0123456789abcdef"
      green = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/mlops-prod-green/fedcba9876543210"
    }
    load_balancer_security_group_id = "sg-0a1b2c3d4e5f60789"
  }
  override_resource {
    target          = aws_eks_cluster.this
    override_during = plan
    values = {
      vpc_config = { cluster_security_group_id = "sg-0c1a2b3c4d5e6f708" }
      identity   = [{ oidc = [{ issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF" }] }]
    }
  }

  assert {
    condition     = toset(data.aws_iam_policy_document.cluster_targets[0].statement[0].resources) == toset(values(var.target_group_arns)) && toset(data.aws_iam_policy_document.cluster_targets[0].statement[0].actions) == toset(["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"])
    error_message = "the cluster role may register and deregister targets in the two target groups only"
  }
  assert {
    condition     = aws_iam_role_policy.cluster_targets[0].name == "serving-target-groups"
    error_message = "the target-group grant must be attached to the cluster role"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.load_balancer_to_pods[0].security_group_id == "sg-0c1a2b3c4d5e6f708" && aws_vpc_security_group_ingress_rule.load_balancer_to_pods[0].referenced_security_group_id == var.load_balancer_security_group_id && aws_vpc_security_group_ingress_rule.load_balancer_to_pods[0].from_port == 8080 && aws_vpc_security_group_ingress_rule.load_balancer_to_pods[0].to_port == 8080 && aws_vpc_security_group_ingress_rule.load_balancer_to_pods[0].ip_protocol == "tcp"
    error_message = "the pods' serving port must be open, in the cluster's own security group, to the ALB's security group only"
  }
}

run "target_groups_without_the_load_balancer_security_group_are_refused" {
  command = plan
  variables {
    target_group_arns = { blue = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/mlops-prod-blue/0123456789abcdef" }
  }
  expect_failures = [aws_vpc_security_group_ingress_rule.load_balancer_to_pods]
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
