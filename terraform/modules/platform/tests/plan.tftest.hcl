# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The blue/green composition: one serving group per color, and a deploy_targets output of exactly the shape
# `mlops deploy canary` validates (DeployTargets in pipelines/deploy/targets.py); the listener's certificate, given or
# looked up in ACM by serving_domain.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  environment              = "prod"
  vpc_cidr                 = "10.30.0.0/16"
  certificate_arn          = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
  mlflow_tracking_uri      = "https://mlflow.internal.example"
  serving_min_size         = 3
  serving_max_size         = 12
  serving_desired_capacity = 3
  enable_eks               = false
}

run "blue_and_green_serving_groups_and_the_deploy_targets" {
  command = plan

  assert {
    condition     = length(data.aws_acm_certificate.serving) == 0
    error_message = "with certificate_arn given, ACM must not be searched"
  }
  assert {
    condition     = toset(keys(module.serving)) == toset(["blue", "green"])
    error_message = "there must be one serving group per color, blue and green"
  }
  assert {
    condition = toset(keys(output.deploy_targets)) == toset([
      "environment", "listener_arn", "target_groups", "alarm_names", "serving_target", "asg_names", "service_url",
      "artifact_bucket", "model_names",
    ])
    error_message = "deploy_targets must have exactly the DeployTargets fields"
  }
  assert {
    condition     = output.deploy_targets.environment == "prod" && output.deploy_targets.serving_target == "asg"
    error_message = "deploy_targets must name the env and serve from the autoscaling groups"
  }
  assert {
    condition     = toset(keys(output.deploy_targets.target_groups)) == toset(["blue", "green"]) && toset(keys(output.deploy_targets.asg_names)) == toset(["blue", "green"])
    error_message = "deploy_targets must map both colors to a target group and an autoscaling group"
  }
  assert {
    condition = (
      join(",", output.deploy_targets.alarm_names.blue) == "mlops-prod-blue-5xx-rate,mlops-prod-blue-latency-p99,mlops-prod-blue-healthy-hosts" &&
      join(",", output.deploy_targets.alarm_names.green) == "mlops-prod-green-5xx-rate,mlops-prod-green-latency-p99,mlops-prod-green-healthy-hosts"
    )
    error_message = "a canary to either color must watch that color's error rate, p99 latency and healthy hosts"
  }
}

run "service_url_names_the_service_hostname" {
  command = plan
  variables {
    service_hostname = "serving.example.com"
  }

  assert {
    condition     = output.deploy_targets.service_url == "https://serving.example.com"
    error_message = "service_url must be https://<service_hostname> when one is given"
  }
}

run "a_url_as_service_hostname_is_refused" {
  command = plan
  variables {
    service_hostname = "https://serving.example.com/"
  }
  expect_failures = [var.service_hostname]
}

run "without_an_arn_the_issued_certificate_for_serving_domain_is_looked_up" {
  command = plan
  variables {
    certificate_arn = null
    serving_domain  = "serving.example.com"
  }

  assert {
    condition = (
      length(data.aws_acm_certificate.serving) == 1 &&
      data.aws_acm_certificate.serving[0].domain == "serving.example.com" &&
      data.aws_acm_certificate.serving[0].statuses == tolist(["ISSUED"]) &&
      data.aws_acm_certificate.serving[0].most_recent
    )
    error_message = "without certificate_arn the listener's certificate must be the newest ISSUED one for serving_domain"
  }
}

run "neither_a_certificate_nor_a_domain_is_refused" {
  command = plan
  variables {
    certificate_arn = null
  }
  expect_failures = [data.aws_acm_certificate.serving]
}

run "both_colors_install_the_envs_serving_package_from_its_artifacts_bucket" {
  command = plan
  variables {
    package_version = "4f2c9e1"
  }
  # the buckets' names are known only after apply (bucket_prefix): given here so the URI can be compared at plan
  override_module {
    target = module.s3
    outputs = {
      bucket_names         = { data = "mlops-prod-data-x", artifacts = "mlops-prod-artifacts-x", capture = "mlops-prod-capture-x" }
      bucket_arns          = { data = "arn:aws:s3:::mlops-prod-data-x", artifacts = "arn:aws:s3:::mlops-prod-artifacts-x", capture = "arn:aws:s3:::mlops-prod-capture-x" }
      log_bucket_name      = "mlops-prod-logs-x"
      replication_role_arn = null
    }
  }

  assert {
    condition = alltrue([
      for color in ["blue", "green"] :
      module.serving[color].package_uri == "s3://mlops-prod-artifacts-x/packages/serving/4f2c9e1/"
    ])
    error_message = "both colors install packages/serving/<package_version>/ of the env's artifacts bucket, where `mlops deploy package` publishes it"
  }
}

run "every_serving_instance_serves_every_model_of_the_env" {
  command = plan
  variables {
    model_names = ["demo-model", "churn"]
  }

  assert {
    condition = alltrue([for color in ["blue", "green"] : module.serving[color].default_model_uris == [
      "models:/demo-model@champion", "models:/churn@champion",
    ]])
    error_message = "both colors' instances must serve every model of model_names in one process, not the first alone"
  }
  assert {
    condition     = join(",", output.deploy_targets.model_names) == "demo-model,churn"
    error_message = "deploy_targets must name the env's models, so a deploy of another one is refused"
  }
}

run "training_jobs_and_large_drift_windows_get_their_roles_and_settings" {
  command = plan
  variables {
    enable_drift_emr = true
  }

  assert {
    condition     = length(module.sagemaker_training) == 1 && length(module.emr_serverless) == 1
    error_message = "the SageMaker training role and the EMR Serverless application must exist when asked"
  }
  assert {
    condition = alltrue([for key in [
      "MLOPS_RETRAIN_SAGEMAKER_ROLE_ARN", "MLOPS_RETRAIN_SAGEMAKER_SUBNETS", "MLOPS_RETRAIN_SAGEMAKER_SECURITY_GROUPS",
      "MLOPS_RETRAIN_SAGEMAKER_JOB_PREFIX", "MLOPS_DRIFT_EMR_APPLICATION_ID", "MLOPS_DRIFT_EMR_JOB_ROLE_ARN",
      "MLOPS_DRIFT_EMR_ENTRY_POINT", "MLOPS_DRIFT_EMR_ARCHIVE", "MLOPS_DRIFT_EMR_LOG_GROUP",
    ] : contains(keys(output.services_env), key)])
    error_message = "the workloads must get the training backend's and EMR's settings from services_env"
  }
  assert {
    condition     = length(data.aws_iam_policy_document.workload["drift"].source_policy_documents) == 2 && length(data.aws_iam_policy_document.workload["retraining"].source_policy_documents) == 2 && length(data.aws_iam_policy_document.workload["serving"].source_policy_documents) == 1
    error_message = "drift may submit its EMR jobs and retraining its training jobs; serving gets nothing more"
  }
}

run "without_emr_no_drift_emr_settings_are_passed" {
  command = plan

  assert {
    condition     = length(module.emr_serverless) == 0 && !contains(keys(output.services_env), "MLOPS_DRIFT_EMR_APPLICATION_ID")
    error_message = "with EMR off, the settings must be absent (an empty s3:// URI would not validate)"
  }
}
