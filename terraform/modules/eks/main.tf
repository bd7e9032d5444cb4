# An EKS cluster in Auto Mode (AWS runs the nodes, their autoscaling, the core add-ons and the load balancer
# controller; README.md says why) with a private API endpoint (public only for an explicit CIDR list), all
# control-plane logs, KMS envelope encryption of secrets, API-only access entries (admins, the deploy role), the
# metrics-server add-on, the ALB's blue/green target groups opened to the pods, and IRSA roles (OIDC provider + one
# role per workload service account with a least-privilege policy).
data "aws_partition" "current" {}

locals {
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy"
  log_types  = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  # Auto Mode runs compute, block storage, load balancing and networking with the cluster role
  cluster_policies = ["AmazonEKSClusterPolicy", "AmazonEKSComputePolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy"]
  node_policies    = ["AmazonEKSWorkerNodeMinimalPolicy", "AmazonEC2ContainerRegistryPullOnly"]
  # the namespaces the workloads run in: the only ones the deploy role may change
  workload_namespaces = sort(distinct([for w in values(var.workloads) : w.namespace]))
}

# ---- control plane ------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name_prefix        = "${substr(var.name, 0, 24)}-cluster-"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  for_each   = var.attach_aws_managed_policies ? toset(local.cluster_policies) : toset([])
  role       = aws_iam_role.cluster.name
  policy_arn = "${local.policy_arn}/${each.value}"
}

# EKS needs the secrets key through the cluster role (grants for envelope encryption).
data "aws_iam_policy_document" "cluster_kms" {
  statement {
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "cluster_kms" {
  name   = "secrets-encryption"
  role   = aws_iam_role.cluster.id
  policy = data.aws_iam_policy_document.cluster_kms.json
}

# Created before the cluster so EKS writes into an encrypted group with a retention instead of making its own.
resource "aws_cloudwatch_log_group" "cluster" {
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_security_group" "cluster" {
  name_prefix = "${var.name}-cluster-"
  description = "EKS control plane: HTTPS from the nodes and the VPC"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-cluster" })

  ingress {
    description = "Kubernetes API from inside the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description = "Control plane to kubelets and webhooks inside the VPC"
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_eks_cluster" "this" {
  name                      = var.name
  version                   = var.kubernetes_version
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = local.log_types
  # Auto Mode brings VPC CNI, CoreDNS and kube-proxy itself: no self-managed copies beside them
  bootstrap_self_managed_addons = false

  # access entries only (no aws-auth ConfigMap), and nobody is admin just for having created the cluster
  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = false
  }

  compute_config {
    enabled       = true
    node_pools    = ["general-purpose", "system"]
    node_role_arn = aws_iam_role.node.arn
  }

  kubernetes_network_config {
    elastic_load_balancing {
      enabled = true
    }
  }

  storage_config {
    block_storage {
      enabled = true
    }
  }

  vpc_config {
    subnet_ids              = var.subnet_ids
    security_group_ids      = [aws_security_group.cluster.id]
    endpoint_private_access = true
    endpoint_public_access  = length(var.public_access_cidrs) > 0
    public_access_cidrs     = length(var.public_access_cidrs) > 0 ? var.public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = var.kms_key_arn
    }
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy_attachment.cluster, aws_iam_role_policy_attachment.node, aws_iam_role_policy.cluster_kms, aws_cloudwatch_log_group.cluster]
}

# ---- nodes (EKS Auto Mode) -------------------------------------------------------------------------------------
# No node group or launch template: Auto Mode launches, scales and patches the nodes (its built-in node pools,
# Karpenter-based) and runs VPC CNI, CoreDNS, kube-proxy, the EBS CSI driver and the load balancer controller itself.
# The nodes take this role; pods never do (they get their own credentials through IRSA).
data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name_prefix        = "${substr(var.name, 0, 24)}-node-"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
  tags               = var.tags
}

# what Auto Mode nodes need, and no more: join the cluster and pull images (the CNI runs with the cluster role)
resource "aws_iam_role_policy_attachment" "node" {
  for_each   = var.attach_aws_managed_policies ? toset(local.node_policies) : toset([])
  role       = aws_iam_role.node.name
  policy_arn = "${local.policy_arn}/${each.value}"
}

# ---- IRSA -----------------------------------------------------------------------------------------------------
resource "aws_iam_openid_connect_provider" "this" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

locals {
  issuer = replace(aws_iam_openid_connect_provider.this.url, "https://", "")
}

data "aws_iam_policy_document" "workload_assume" {
  for_each = var.workloads
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }
    # exactly these service accounts of this namespace (StringEquals with several values: any one of them)
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = [for sa in each.value.service_accounts : "system:serviceaccount:${each.value.namespace}:${sa}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "workload" {
  for_each           = var.workloads
  name_prefix        = "${substr(var.name, 0, 20)}-${substr(each.key, 0, 10)}-"
  assume_role_policy = data.aws_iam_policy_document.workload_assume[each.key].json
  # tag values allow letters, digits, spaces and _ . : / = + - @ (no commas), at most 256 characters
  tags = merge(var.tags, { ServiceAccounts = substr(join(" ", [for sa in each.value.service_accounts : "${each.value.namespace}/${sa}"]), 0, 256) })
}

resource "aws_iam_role_policy" "workload" {
  for_each = var.workloads
  name     = "${each.key}-least-privilege"
  role     = aws_iam_role.workload[each.key].id
  policy   = each.value.policy_json
}

# ---- access entries -------------------------------------------------------------------------------------------
# Who may use the Kubernetes API, granted by EKS access policies rather than an aws-auth ConfigMap.
resource "aws_eks_access_entry" "admin" {
  for_each      = toset(var.admin_principal_arns)
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  type          = "STANDARD"
  tags          = var.tags
}

resource "aws_eks_access_policy_association" "admin" {
  for_each      = aws_eks_access_entry.admin
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value.principal_arn
  policy_arn    = "arn:${data.aws_partition.current.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

# The roles Jenkins deploys with: edit rights in the workloads' namespaces only (it applies the rendered overlays
# there), nothing cluster-wide. Its Kubernetes group is what the platform team binds to the custom resources the
# overlays carry (TargetGroupBinding, ScaledObject), which the built-in edit role does not cover (README.md).
# count, not for_each: the deploy role is made in the same apply, so its ARN is unknown at plan; the list's length
# is known.
resource "aws_eks_access_entry" "deploy" {
  count             = length(var.deploy_role_arns)
  cluster_name      = aws_eks_cluster.this.name
  principal_arn     = var.deploy_role_arns[count.index]
  type              = "STANDARD"
  kubernetes_groups = [var.deploy_kubernetes_group]
  tags              = var.tags
}

resource "aws_eks_access_policy_association" "deploy" {
  count         = length(var.deploy_role_arns)
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.deploy[count.index].principal_arn
  policy_arn    = "arn:${data.aws_partition.current.partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"

  access_scope {
    type       = "namespace"
    namespaces = local.workload_namespaces
  }

  lifecycle {
    precondition {
      condition     = length(local.workload_namespaces) > 0
      error_message = "deploy_role_arns needs at least one workload: its edit rights are limited to the workloads' namespaces."
    }
  }
}

# ---- metrics ------------------------------------------------------------------------------------------------
# metrics-server (resource metrics for the CPU trigger of the serving autoscaler) as an EKS community add-on: AWS
# publishes and versions it, so no upstream manifest is copied here. Auto Mode does not include it.
resource "aws_eks_addon" "metrics_server" {
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "metrics-server"
  addon_version               = var.metrics_server_version
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags
}

# ---- the load balancer's target groups ----------------------------------------------------------------------
# The serving pods join the ALB's blue and green target groups (target type ip) through a TargetGroupBinding per
# color, reconciled by Auto Mode's load balancer controller with the cluster role. Terraform made the target
# groups, not the controller, and the managed AmazonEKSLoadBalancingPolicy scopes its writes to what the cluster
# tagged as its own: this grants registration on exactly these two target groups and nothing else.
data "aws_iam_policy_document" "cluster_targets" {
  count = length(var.target_group_arns) > 0 ? 1 : 0
  statement {
    actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    resources = values(var.target_group_arns)
  }
}

resource "aws_iam_role_policy" "cluster_targets" {
  count  = length(var.target_group_arns) > 0 ? 1 : 0
  name   = "serving-target-groups"
  role   = aws_iam_role.cluster.id
  policy = data.aws_iam_policy_document.cluster_targets[0].json
}

# The ALB reaches the pods directly (target type ip) on their serving port. Auto Mode nodes, and so the pods, sit
# in the security group EKS creates for the cluster: open that port there to the load balancer's group alone.
resource "aws_vpc_security_group_ingress_rule" "load_balancer_to_pods" {
  count                        = length(var.target_group_arns) > 0 ? 1 : 0
  description                  = "serving pods from the ALB (target type ip)"
  security_group_id            = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  referenced_security_group_id = var.load_balancer_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.serving_port
  to_port                      = var.serving_port
  tags                         = var.tags

  lifecycle {
    precondition {
      condition     = var.load_balancer_security_group_id != null
      error_message = "target_group_arns needs load_balancer_security_group_id: the pods accept the ALB's traffic from its security group only."
    }
  }
}
