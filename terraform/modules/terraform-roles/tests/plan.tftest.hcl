# Plan-level assertions with a mocked provider (no account needed): run by tests/integration/test_terraform_plan.py.
# The policy documents are mocked, so these read the statements as configured: both roles carry the one Jenkins
# trust (modules/jenkins-trust, tested there), the plan role writes nothing but its lock file, the apply role writes IAM only within
# mlops-<env>-*, and both reach only their own state object, its lock file and (through S3) the state key.
# terraform/bootstrap/tests checks that each env the bootstrap creates roles for gets its own state key.
mock_provider "aws" {
  source = "../../testing/aws" # the shared mocked data sources
}

variables {
  name                   = "mlops-dev"
  trusted_principal_arns = ["arn:aws:iam::111122223333:role/mlops-jenkins"]
  state_bucket_arn       = "arn:aws:s3:::mlops-tf-state-111122223333"
  state_key              = "envs/dev/terraform.tfstate"
  state_kms_key_arn      = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
}

run "fixed_names_one_hour_sessions_and_only_jenkins_trusted" {
  command = plan

  assert {
    condition     = aws_iam_role.this["plan"].name == "mlops-dev-terraform-plan" && aws_iam_role.this["apply"].name == "mlops-dev-terraform-apply"
    error_message = "the roles must be named mlops-<env>-terraform-plan and mlops-<env>-terraform-apply (Jenkins assumes them by name)"
  }
  assert {
    condition     = output.role_names == { plan = "mlops-dev-terraform-plan", apply = "mlops-dev-terraform-apply" }
    error_message = "role_names must map plan and apply to the fixed names"
  }
  assert {
    condition     = alltrue([for r in aws_iam_role.this : r.max_session_duration == 3600 && r.assume_role_policy == module.trust.policy_json])
    error_message = "both roles must carry the one trust policy, with sessions of at most one hour"
  }
}

run "the_plan_role_writes_nothing_but_its_lock_file" {
  command = plan

  # every allowed action is a read (Get/List/Describe, kms:Decrypt), or a write of exactly this env's lock file, or
  # the state key's encryption through S3 (what writing that lock file into the encrypted bucket takes)
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.plan.statement : alltrue([for a in s.actions :
      can(regex("^[a-z0-9-]+:(Get|List|Describe)", a)) || a == "kms:Decrypt" ||
      (contains(["s3:PutObject", "s3:DeleteObject"], a) && s.resources == toset(["arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate.tflock"])) ||
      (contains(["kms:Encrypt", "kms:GenerateDataKey"], a) && jsonencode([for c in s.condition : [c.variable, c.values]]) == jsonencode([["kms:ViaService", ["s3.eu-west-1.amazonaws.com"]]]))
    ]) if s.effect != "Deny"])
    error_message = "the plan role may write nothing but its env's lock file"
  }
  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.plan.statement : s.resources if s.effect != "Deny" && try(contains(s.actions, "s3:GetObject"), false)])) == toset([
    "arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate", "arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate.tflock"])
    error_message = "the plan role reads exactly its env's state object and its lock file"
  }
  # ReadOnlyAccess reads every object of the account: the plan role's own deny keeps it to its state
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.plan.statement : s.effect == "Deny" &&
      try(contains(s.actions, "s3:GetObject") && contains(s.actions, "s3:GetObjectVersion"), false) &&
    s.not_resources == toset(["arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate", "arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate.tflock"])])
    error_message = "the plan role must be denied every object but its env's state and lock file, whatever ReadOnlyAccess allows"
  }
  assert {
    condition     = data.aws_iam_policy_document.plan.source_policy_documents == tolist([data.aws_iam_policy_document.guard.json]) && aws_iam_role_policy.plan.policy == data.aws_iam_policy_document.plan.json
    error_message = "the plan role's policy must carry the guard's denies"
  }
  assert {
    condition     = aws_iam_role_policy_attachment.read_only[0].role == "mlops-dev-terraform-plan" && aws_iam_role_policy_attachment.read_only[0].policy_arn == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    error_message = "the plan role's one managed policy is ReadOnlyAccess (the apply role has none)"
  }
}

run "without_managed_policies_on_moto_nothing_is_attached" {
  command = plan
  variables {
    attach_aws_managed_policies = false
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.read_only) == 0
    error_message = "no AWS managed policy when attach_aws_managed_policies is false"
  }
}

run "the_apply_role_writes_iam_only_within_its_env" {
  command = plan

  assert {
    condition = alltrue(flatten([for s in data.aws_iam_policy_document.apply.statement : [for a in s.actions :
      can(regex("^iam:(Get|List)", a)) ||
      alltrue([for r in s.resources : startswith(r, "arn:aws:iam::111122223333:role/mlops-dev-") || startswith(r, "arn:aws:iam::111122223333:policy/mlops-dev-") || startswith(r, "arn:aws:iam::111122223333:instance-profile/mlops-dev-")]) ||
      (can(regex("OpenIDConnectProvider", a)) && s.resources == toset(["arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/*"])) ||
      (a == "iam:CreateServiceLinkedRole" && s.resources == toset(["arn:aws:iam::111122223333:role/aws-service-role/*"]) &&
      one([for c in s.condition : c.variable]) == "iam:AWSServiceName")
    if startswith(a, "iam:")] if s.effect != "Deny"]))
    error_message = "the apply role may write IAM only on roles, policies and instance profiles named mlops-dev-*, EKS OIDC providers and service-linked roles"
  }
  assert {
    condition = alltrue(flatten([for s in data.aws_iam_policy_document.apply.statement : [for a in s.actions :
    !can(regex("^(\\*|iam:\\*|organizations:|account:|sts:|dynamodb:|iam:.*(User|Group|AccessKey|LoginProfile|PermissionsBoundary|SAMLProvider))", a))] if s.effect != "Deny"]))
    error_message = "no IAM, Organizations or account administration, no users, groups, keys or permission boundaries, no sts, no DynamoDB"
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.apply.statement : one(s.condition).values if try(contains(s.actions, "iam:AttachRolePolicy"), false)]) == tolist([
      "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
      "arn:aws:iam::aws:policy/AmazonEKSComputePolicy", "arn:aws:iam::aws:policy/AmazonEKSBlockStoragePolicy",
      "arn:aws:iam::aws:policy/AmazonEKSLoadBalancingPolicy", "arn:aws:iam::aws:policy/AmazonEKSNetworkingPolicy",
      "arn:aws:iam::aws:policy/AmazonEKSWorkerNodeMinimalPolicy", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
      "arn:aws:iam::111122223333:policy/mlops-dev-*",
    ])
    error_message = "the apply role may attach only the AWS managed policies the modules attach and the env's own policies"
  }
  # mlops-dev-* would match the Terraform roles themselves: the apply role must never widen its own permissions
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.apply.statement : s.effect == "Deny" &&
      s.not_actions == toset(["iam:Get*", "iam:List*"]) &&
    s.resources == toset(["arn:aws:iam::111122223333:role/mlops-dev-terraform-*", "arn:aws:iam::111122223333:role/mlops-jenkins"])])
    error_message = "the apply role must be denied every write to the Terraform roles and to the Jenkins role"
  }
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.apply.statement : s.effect == "Deny" &&
    try(contains(s.actions, "sts:AssumeRole") && s.resources == toset(["*"]), false)])
    error_message = "the apply role must be denied assuming any role (one it created and trusted itself from would bypass its limits)"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.apply.statement : s.resources if s.effect != "Deny" && try(contains(s.actions, "s3:*"), false)]) == toset(["arn:aws:s3:::mlops-dev-*", "arn:aws:s3:::mlops-dev-*/*"])
    error_message = "the apply role may change only buckets named mlops-dev-*"
  }
  assert {
    condition     = data.aws_iam_policy_document.apply.source_policy_documents == tolist([data.aws_iam_policy_document.guard.json]) && aws_iam_role_policy.apply.policy == data.aws_iam_policy_document.apply.json
    error_message = "the apply role's policy must carry the guard's denies"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.apply.statement : s.resources == toset(["arn:aws:ssm:eu-west-1::parameter/aws/service/*"])
    if s.effect != "Deny" && anytrue([for a in coalesce(s.actions, toset([])) : startswith(a, "ssm:")])])
    error_message = "SSM parameters: only AWS's public ones (the AMI), never the account's (the API keys)"
  }
  assert {
    condition     = anytrue([for s in data.aws_iam_policy_document.apply.statement : s.effect == "Deny" && try(contains(s.actions, "ec2:GetPasswordData"), false)])
    error_message = "ec2:* must not read instances' administrator passwords"
  }
  assert {
    condition     = length(aws_iam_role_policy_attachment.read_only) == 1 && aws_iam_role_policy_attachment.read_only[0].role != aws_iam_role.this["apply"].name
    error_message = "the apply role gets no managed policy"
  }
}

run "both_roles_reach_only_their_own_state" {
  command = plan

  # every Allow naming the state bucket names only the bucket (listing), this env's state object or its lock file
  assert {
    condition = alltrue(flatten([for doc in [data.aws_iam_policy_document.plan, data.aws_iam_policy_document.apply] : [for s in doc.statement :
      [for r in s.resources : contains(["arn:aws:s3:::mlops-tf-state-111122223333", "arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate",
        "arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate.tflock"], r)
    if startswith(r, "arn:aws:s3:::mlops-tf-state-111122223333")] if s.effect != "Deny"]]))
    error_message = "the roles may reach only their env's state object and its lock file in the state bucket"
  }
  assert {
    condition = alltrue([for doc in [data.aws_iam_policy_document.plan, data.aws_iam_policy_document.apply] :
    one([for s in doc.statement : s.resources if try(contains(s.actions, "s3:ListBucket"), false)]) == toset(["arn:aws:s3:::mlops-tf-state-111122223333"])])
    error_message = "listing is of the state bucket only"
  }
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.apply.statement : s.effect == "Deny" &&
      try(contains(s.actions, "s3:GetObject") && contains(s.actions, "s3:PutObject"), false) &&
    s.not_resources == toset(["arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate", "arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate.tflock", "arn:aws:s3:::mlops-dev-*/*"])])
    error_message = "the apply role must be denied every object but its env's state, its lock file and its env's buckets' objects"
  }
  assert {
    condition = alltrue(flatten([for doc in [data.aws_iam_policy_document.plan, data.aws_iam_policy_document.apply, data.aws_iam_policy_document.guard] : [for s in doc.statement :
    !anytrue([for a in coalesce(s.actions, toset([])) : startswith(a, "dynamodb:")])]]))
    error_message = "S3 native locking: no DynamoDB statement at all"
  }
  assert {
    condition     = output.lock_object_arn == "arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate.tflock" && output.state_object_arn == "arn:aws:s3:::mlops-tf-state-111122223333/envs/dev/terraform.tfstate"
    error_message = "the outputs must name the env's state object and its lock file"
  }
  # the guard both carry: never the state key's administration
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.guard.statement : s.effect == "Deny" &&
      s.resources == toset([var.state_kms_key_arn]) &&
    try(contains(s.not_actions, "kms:Decrypt") && !contains(s.not_actions, "kms:PutKeyPolicy") && !contains(s.not_actions, "kms:ScheduleKeyDeletion"), false)])
    error_message = "both roles must be denied administering the state key"
  }
  # the state key: only through S3
  assert {
    condition = alltrue(flatten([for doc in [data.aws_iam_policy_document.plan, data.aws_iam_policy_document.apply] : [for s in doc.statement :
      one([for c in s.condition : c.variable]) == "kms:ViaService" && one([for c in s.condition : c.values]) == tolist(["s3.eu-west-1.amazonaws.com"])
    if s.effect != "Deny" && try(contains(s.resources, var.state_kms_key_arn), false)]]))
    error_message = "the state key may be used only through S3"
  }
}

run "a_wildcard_principal_is_refused" {
  command = plan
  variables {
    trusted_principal_arns = ["*"]
  }
  expect_failures = [var.trusted_principal_arns]
}

run "a_state_bucket_named_like_the_envs_buckets_is_refused" {
  command = plan
  variables {
    state_bucket_arn = "arn:aws:s3:::mlops-dev-state-111122223333"
  }
  expect_failures = [aws_iam_role_policy.apply]
}
