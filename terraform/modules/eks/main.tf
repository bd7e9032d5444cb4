# An EKS cluster with a private API endpoint (public only for an explicit CIDR list), all control-plane logs,
# KMS envelope encryption of secrets, one managed node group on IMDSv2-only, encrypted nodes, and IRSA roles
# (OIDC provider + one role per workload service account with a least-privilege policy).
data "aws_partition" "current" {}

locals {
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy"
  log_types  = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
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
  count      = var.attach_aws_managed_policies ? 1 : 0
  role       = aws_iam_role.cluster.name
  policy_arn = "${local.policy_arn}/AmazonEKSClusterPolicy"
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
  depends_on = [aws_iam_role_policy_attachment.cluster, aws_iam_role_policy.cluster_kms, aws_cloudwatch_log_group.cluster]
}

# ---- nodes ----------------------------------------------------------------------------------------------------
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

resource "aws_iam_role_policy_attachment" "node" {
  for_each   = var.attach_aws_managed_policies ? toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"]) : toset([])
  role       = aws_iam_role.node.name
  policy_arn = "${local.policy_arn}/${each.value}"
}

resource "aws_launch_template" "node" {
  name_prefix = "${var.name}-node-"
  description = "EKS managed nodes: IMDSv2 only, encrypted root volume"

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
    # 1: pods on the container network cannot reach IMDS, so none can take the node role's credentials; they get
    # their own through IRSA. Host-network pods (VPC CNI, kube-proxy) still reach it.
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.node_disk_gib
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-node" })
  }
  # no tags on the template itself: moto copies them into the template data, which would read back as drift
}

resource "aws_eks_node_group" "this" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.name}-default"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnet_ids
  instance_types  = var.node_instance_types

  scaling_config {
    min_size     = var.node_min_size
    desired_size = var.node_desired_size
    max_size     = var.node_max_size
  }

  launch_template {
    id      = aws_launch_template.node.id
    version = aws_launch_template.node.latest_version
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy_attachment.node]

  lifecycle {
    # the cluster autoscaler or HPA-driven scaling moves desired_size; Terraform owns min and max
    # remote_access is never set here (no SSH; Session Manager instead); moto invents one, which would force a
    # replacement on every plan
    ignore_changes = [scaling_config[0].desired_size, remote_access]

    # checked here rather than in a variable validation, which cannot compare variables before Terraform 1.9
    precondition {
      condition     = var.node_min_size >= 0 && var.node_min_size <= var.node_desired_size && var.node_desired_size <= var.node_max_size
      error_message = "EKS node sizes must satisfy 0 <= node_min_size <= node_desired_size <= node_max_size."
    }
  }
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
