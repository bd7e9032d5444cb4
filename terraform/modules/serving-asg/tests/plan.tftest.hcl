# Plan-level assertions with a mocked provider (no account needed): run by tests/unit/test_terraform_plan.py.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name                    = "mlops-prod"
  region                  = "eu-west-1"
  vpc_id                  = "vpc-0123456789abcdef0"
  subnet_ids              = ["subnet-aaaa", "subnet-bbbb"]
  alb_security_group_id   = "sg-0123456789abcdef0"
  target_group_arns       = ["arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/x/1"]
  alb_request_count_label = "app/x/1/targetgroup/x/1"
  kms_key_arn             = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
  package_bucket          = "mlops-prod-artifacts-111122223333"
  package_version         = "4f2c9e1"
  model_names             = ["demo-model"]
  mlflow_tracking_uri     = "https://mlflow.internal.example"
  log_group_name          = "/mlops/prod/serving"
  policy_json             = "{}"
  min_size                = 3
  max_size                = 12
  desired_capacity        = 3
}

run "instances_are_imdsv2_private_encrypted_and_tracked" {
  command = plan

  assert {
    condition     = aws_launch_template.serving.metadata_options[0].http_tokens == "required" && aws_launch_template.serving.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 must be required with hop limit 1"
  }
  assert {
    condition     = aws_launch_template.serving.network_interfaces[0].associate_public_ip_address == "false"
    error_message = "serving instances must not get a public IP"
  }
  assert {
    condition     = aws_launch_template.serving.block_device_mappings[0].ebs[0].encrypted == "true" && aws_launch_template.serving.block_device_mappings[0].ebs[0].kms_key_id == var.kms_key_arn
    error_message = "the root volume must be encrypted with the CMK"
  }
  assert {
    condition     = aws_autoscaling_group.this.health_check_type == "ELB" && aws_autoscaling_group.this.min_size == 3 && aws_autoscaling_group.this.max_size == 12
    error_message = "the group must use ELB health checks and the given sizes"
  }
  assert {
    condition     = aws_autoscaling_policy.requests.target_tracking_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ALBRequestCountPerTarget"
    error_message = "the group must track ALB requests per target"
  }
  assert {
    condition     = !strcontains(base64decode(aws_launch_template.serving.user_data), "AWS_SECRET_ACCESS_KEY")
    error_message = "user data must not carry credentials"
  }
  assert {
    condition     = aws_launch_template.serving.metadata_options[0].instance_metadata_tags == "enabled" && strcontains(base64decode(aws_launch_template.serving.user_data), "/meta-data/tags/instance/mlops:model-version") && strcontains(base64decode(aws_launch_template.serving.user_data), "/meta-data/tags/instance/mlops:serving-env")
    error_message = "instances must serve the model version and settings a deploy tagged them with (instance metadata tags)"
  }
}

run "min_greater_than_max_is_refused" {
  command = plan
  variables {
    min_size         = 5
    max_size         = 2
    desired_capacity = 5
  }
  expect_failures = [aws_autoscaling_group.this]
}

run "non_secret_settings_are_accepted" {
  command = plan
  variables {
    settings_env = { MLOPS_DATA_BUCKET = "mlops-prod-data-111122223333", MLOPS_KMS_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/x" }
  }

  assert {
    condition     = strcontains(base64decode(aws_launch_template.serving.user_data), "MLOPS_KMS_KEY_ARN=")
    error_message = "non-secret settings (a key ARN is not a key) reach the service environment"
  }
}

run "the_api_keys_in_settings_env_are_refused" {
  command = plan
  variables {
    settings_env = { MLOPS_SERVE_API_KEYS = "k1,k2" } # pragma: allowlist secret
  }
  expect_failures = [var.settings_env]
}

run "a_token_in_settings_env_is_refused" {
  command = plan
  variables {
    settings_env = { MLOPS_REGION = "eu-west-1", MLOPS_GITHUB_TOKEN = "t" }
  }
  expect_failures = [var.settings_env]
}

run "instances_install_the_published_package_and_nothing_else" {
  command = plan

  assert {
    condition     = output.package_uri == "s3://mlops-prod-artifacts-111122223333/packages/serving/4f2c9e1/"
    error_message = "the package is s3://<bucket>/packages/serving/<version>/, where `mlops deploy package` publishes it"
  }
  assert {
    condition = (
      strcontains(base64decode(aws_launch_template.serving.user_data), "\"s3://mlops-prod-artifacts-111122223333/packages/serving/4f2c9e1\"") &&
      strcontains(base64decode(aws_launch_template.serving.user_data), "\"$package/SHA256SUMS\"") &&
      strcontains(base64decode(aws_launch_template.serving.user_data), "sha256sum --check --strict") &&
      strcontains(base64decode(aws_launch_template.serving.user_data), "--no-index --find-links \"$wheelhouse\"") &&
      strcontains(base64decode(aws_launch_template.serving.user_data), "--constraint \"$wheelhouse/constraints.txt\"")
    )
    error_message = "user data must read the version's manifest, check every sha256 and install from the wheelhouse alone, pinned by the lock"
  }
  assert {
    condition     = !strcontains(base64decode(aws_launch_template.serving.user_data), "pypi.org") && !strcontains(base64decode(aws_launch_template.serving.user_data), ".whl")
    error_message = "user data must name no package index and no wheel of its own: the manifest lists the files"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.package.policy).Statement == [
      {
        Sid      = "ReadServingPackages"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["arn:aws:s3:::mlops-prod-artifacts-111122223333/packages/serving/*"]
      },
      {
        Sid       = "ListServingPackages"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = ["arn:aws:s3:::mlops-prod-artifacts-111122223333"]
        Condition = { StringLike = { "s3:prefix" = ["packages/serving/*"] } }
      },
    ]
    error_message = "the instance role may read and list the serving packages' prefix of the bucket, nothing else"
  }
}

run "a_package_version_that_is_not_a_commit_or_tag_is_refused" {
  command = plan
  variables {
    package_version = "../mlflow"
  }
  expect_failures = [var.package_version]
}

run "a_package_prefix_with_slashes_at_its_ends_is_refused" {
  command = plan
  variables {
    package_prefix = "/packages/serving/"
  }
  expect_failures = [var.package_prefix]
}

run "one_process_serves_every_model_of_the_env" {
  command = plan
  variables {
    model_names = ["demo-model", "churn"]
  }

  assert {
    condition     = strcontains(base64decode(aws_launch_template.serving.user_data), "model_uris \"$deployed\" \"models:/demo-model@champion\" \"models:/churn@champion\")")
    error_message = "the user data must pass every model's default URI, in model_names' order, to the tag parser"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.serving.user_data), file("${path.module}/templates/model-uris.sh"))
    error_message = "the tag parser (templates/model-uris.sh, which tests run against mlops.core.contracts) must reach the user data verbatim"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.serving.user_data), "echo \"MLOPS_SERVE_MODEL_URI=$model_uri\" >> /etc/mlops.env")
    error_message = "the service's environment must carry the model list"
  }
}

run "a_model_named_twice_is_refused" {
  command = plan
  variables {
    model_names = ["demo-model", "churn", "demo-model"]
  }
  expect_failures = [var.model_names]
}

run "a_model_name_the_registry_would_not_take_is_refused" {
  command = plan
  variables {
    model_names = ["demo-model", "churn model"]
  }
  expect_failures = [var.model_names]
}

run "no_model_is_refused" {
  command = plan
  variables {
    model_names = []
  }
  expect_failures = [var.model_names]
}
