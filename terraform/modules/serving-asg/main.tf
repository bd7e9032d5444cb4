# Model serving on EC2: a launch template (IMDSv2 only, no public IP, encrypted EBS, user data that installs and
# starts `mlops serve`, no secrets in it), an autoscaling group over the private subnets with ELB health checks,
# target tracking on CPU and on ALB requests per target, and instance refresh for rolling deploys.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

data "aws_ssm_parameter" "ami" {
  count = var.ami_id == null ? 1 : 0
  name  = var.ami_ssm_parameter
}

locals {
  default_model_uris = [for name in var.model_names : "models:/${name}@${var.model_alias}"]
  ami_id             = var.ami_id != null ? var.ami_id : nonsensitive(data.aws_ssm_parameter.ami[0].value)
  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    package_bucket  = var.package_bucket
    package_prefix  = var.package_prefix
    package_version = var.package_version
    # every model of the env in one process, each at its alias until a deploy pins a version (model-uris.sh)
    default_model_uris  = local.default_model_uris
    model_uris_function = file("${path.module}/templates/model-uris.sh")
    port                = var.port
    workers             = var.workers
    tracking_uri        = var.mlflow_tracking_uri
    region              = var.region
    settings_env        = var.settings_env
    log_group           = var.log_group_name
    service_name        = "mlops-serving"
    health_path         = "/health/ready"
    python_binary       = "python3.11"
    api_keys_name       = var.api_keys_parameter_name
  })
}

# ---- identity ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name_prefix        = "${substr(var.name, 0, 24)}-serving-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "instance" {
  name   = "serving-least-privilege"
  role   = aws_iam_role.instance.id
  policy = var.policy_json
}

data "aws_iam_policy_document" "logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:${var.log_group_name}:*"]
  }
}

# The API keys: read at boot from an SSM SecureString, never written into user data.
data "aws_iam_policy_document" "api_keys" {
  statement {
    actions   = ["ssm:GetParameter"]
    resources = ["arn:${data.aws_partition.current.partition}:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter${var.api_keys_parameter_name}"]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "api_keys" {
  name   = "read-serving-api-keys"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.api_keys.json
}

# The serving package (`mlops deploy package`, mlops.delivery.package): read under the package prefix, so every
# published version, not only package_version: a group still runs an older launch template version (each deploy pins
# one) and its scale-outs and rollbacks boot that version's package. List only that prefix: the user data downloads a
# version's folder at once. The objects' key is the bucket's; policy_json grants its use through S3. Written out
# rather than a policy document data source, so the plan tests see its statements.
resource "aws_iam_role_policy" "package" {
  name = "read-serving-package"
  role = aws_iam_role.instance.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadServingPackages"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["arn:${data.aws_partition.current.partition}:s3:::${var.package_bucket}/${var.package_prefix}/*"]
      },
      {
        Sid       = "ListServingPackages"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = ["arn:${data.aws_partition.current.partition}:s3:::${var.package_bucket}"]
        Condition = { StringLike = { "s3:prefix" = ["${var.package_prefix}/*"] } }
      },
    ]
  })
}

resource "aws_iam_role_policy" "logs" {
  name   = "write-serving-logs"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.logs.json
}

# Session Manager instead of SSH: no key pair and no port 22.
resource "aws_iam_role_policy_attachment" "ssm" {
  count      = var.attach_aws_managed_policies ? 1 : 0
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${substr(var.name, 0, 24)}-serving-"
  role        = aws_iam_role.instance.name
  tags        = var.tags
}

# ---- network ----------------------------------------------------------------------------------------------
resource "aws_security_group" "instance" {
  name_prefix = "${var.name}-serving-"
  description = "Serving instances: the serving port from the load balancer only, HTTPS out"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-serving" })

  ingress {
    description     = "Serving port from the load balancer"
    from_port       = var.port
    to_port         = var.port
    protocol        = "tcp"
    security_groups = [var.alb_security_group_id]
  }

  egress {
    description = "HTTPS to AWS APIs (through VPC endpoints or NAT) and the model registry"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.egress_cidrs
  }

  lifecycle {
    create_before_destroy = true
  }
}

# ---- instances --------------------------------------------------------------------------------------------
resource "aws_launch_template" "serving" {
  name_prefix            = "${var.name}-serving-"
  description            = "mlops serve: IMDSv2 only, private, encrypted EBS"
  image_id               = local.ami_id
  instance_type          = var.instance_type
  user_data              = base64encode(local.user_data)
  update_default_version = true
  ebs_optimized          = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.this.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled" # the user data reads the deployed model version from its tag
  }

  network_interfaces {
    associate_public_ip_address = false
    delete_on_termination       = true
    security_groups             = [aws_security_group.instance.id]
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.disk_gib
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-serving" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = "${var.name}-serving" })
  }
  # no tags on the template itself: moto copies them into the template data, which would read back as drift

  lifecycle {
    # Terraform reads the template's latest version, and each `mlops deploy canary` adds one: a copy of the
    # latest with the image and model version as instance tags and its own description (rollout.py). A later
    # plan must not take those back out. The instances still get every tag from the group (propagate_at_launch);
    # a change of var.tags reaches the volume tags only with a new template.
    ignore_changes = [description, tag_specifications]
  }
}

resource "aws_autoscaling_group" "this" {
  name_prefix               = "${var.name}-serving-"
  vpc_zone_identifier       = var.subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  health_check_type         = "ELB"
  health_check_grace_period = var.health_check_grace_seconds
  target_group_arns         = var.target_group_arns
  wait_for_capacity_timeout = var.wait_for_capacity_timeout
  enabled_metrics           = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupMinSize", "GroupMaxSize", "GroupTotalInstances"]

  launch_template {
    id      = aws_launch_template.serving.id
    version = aws_launch_template.serving.latest_version
  }

  # a new launch template version (new package or model) rolls through the group, keeping 90% healthy
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = var.min_healthy_percentage
      instance_warmup        = var.health_check_grace_seconds
    }
  }

  dynamic "tag" {
    for_each = merge(var.tags, { Name = "${var.name}-serving" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # target tracking moves desired capacity; Terraform owns min and max. `mlops deploy canary` moves the group
    # to the launch template version it creates for each deploy (mlops.delivery.rollout): a later plan must
    # not move it back, so the version is the deploy's after create (template changes reach the instances with
    # the next deploy, which copies the latest version).
    ignore_changes = [desired_capacity, launch_template[0].version]

    # checked here rather than in a variable validation, which cannot compare variables before Terraform 1.9
    precondition {
      condition     = var.min_size <= var.max_size
      error_message = "serving-asg: min_size (${var.min_size}) must not be greater than max_size (${var.max_size})."
    }
    precondition {
      condition     = var.desired_capacity >= var.min_size && var.desired_capacity <= var.max_size
      error_message = "serving-asg: desired_capacity (${var.desired_capacity}) must lie between min_size (${var.min_size}) and max_size (${var.max_size})."
    }
  }
}

# policy names carry the group's prefix: moto keeps policies by name alone, so two groups (blue and green) with
# the same policy names would overwrite each other there (AWS scopes them per group)
resource "aws_autoscaling_policy" "cpu" {
  name                   = "${var.name}-cpu-target-tracking"
  autoscaling_group_name = aws_autoscaling_group.this.name
  policy_type            = "TargetTrackingScaling"

  lifecycle {
    # neither is managed here; moto omits Enabled and reports a predictive configuration, which reads as drift
    ignore_changes = [enabled, predictive_scaling_configuration]
  }

  target_tracking_configuration {
    target_value = var.cpu_target_percent
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
  }
}

resource "aws_autoscaling_policy" "requests" {
  name                   = "${var.name}-alb-requests-per-target"
  autoscaling_group_name = aws_autoscaling_group.this.name
  policy_type            = "TargetTrackingScaling"

  lifecycle {
    ignore_changes = [enabled, predictive_scaling_configuration] # see the cpu policy
  }

  target_tracking_configuration {
    target_value = var.requests_per_target
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = var.alb_request_count_label
    }
  }
}
