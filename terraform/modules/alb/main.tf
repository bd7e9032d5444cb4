# The serving load balancer: HTTPS only (TLS 1.2+ policy; port 80 only redirects), invalid headers dropped,
# deletion protection, access logs into the log bucket, health-checked target groups (blue and green) forwarded
# with weights so a canary can take a share of traffic, and an optional WAF web ACL.
resource "aws_security_group" "this" {
  name_prefix = "${var.name}-alb-"
  description = "Serving load balancer: HTTPS and the HTTP redirect in, the serving port out to the VPC"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-alb" })

  ingress {
    description = "HTTPS from clients"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.ingress_cidrs
  }

  ingress {
    description = "HTTP from clients, answered with a redirect to HTTPS"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = var.ingress_cidrs
  }

  egress {
    description = "Serving port on the targets inside the VPC"
    from_port   = var.target_port
    to_port     = var.target_port
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb" "this" {
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.subnet_ids
  security_groups            = [aws_security_group.this.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = var.idle_timeout_seconds
  tags                       = var.tags

  access_logs {
    enabled = true
    bucket  = var.access_log_bucket
    prefix  = "alb"
  }
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; targets sit in private subnets and accept only the load balancer's security group
  for_each             = var.target_groups
  name                 = "${substr(var.name, 0, 32 - length(each.key) - 1)}-${each.key}"
  port                 = var.target_port
  protocol             = "HTTP"
  target_type          = var.target_type
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  tags                 = merge(var.tags, { Variant = each.key })

  health_check {
    enabled             = true
    path                = var.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn
  tags              = var.tags

  default_action {
    type = "forward"
    forward {
      dynamic "target_group" {
        for_each = var.target_groups
        content {
          arn    = aws_lb_target_group.this[target_group.key].arn
          weight = target_group.value.weight
        }
      }
    }
  }

  lifecycle {
    # the weights are set here only at create; afterwards `mlops deploy canary` moves them at runtime (blue/green),
    # and a later plan must not put them back. The target groups list is a set, so its weights cannot be
    # singled out: the whole list is left alone (to change which target groups exist, apply with
    # -replace=<this listener>).
    ignore_changes = [default_action[0].forward[0].target_group]
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  tags              = var.tags

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count        = var.waf_acl_arn == null ? 0 : 1
  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.waf_acl_arn
}
