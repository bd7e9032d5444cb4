"""The EC2 serving path boots from the artifact the pipeline published, under the instance role, with IAM enforced.

On the local stack: Terraform applies serving-asg's instance role (its IAM resources only, `-target`) and plans its
launch template, whose user data is the script under test; `mlops deploy package` (the real command) publishes the
serving package to the artifacts bucket; then the rendered user data runs in a sandbox directory standing in for
the host's `/`, signed by the instance role's STS credentials while moto enforces IAM (tests/support/iam.py).

What cannot exist here is stood in for, and only that: the host's package manager, users and systemd (recording
scripts on PATH: dnf, useradd, chown, systemctl, the CloudWatch agent's ctl), the instance metadata service and the
started service's readiness (one local HTTP server), and the SSM read of the API keys (moto authorizes SSM against
"*" only, so a grant scoped to the parameter can never pass there: the call is recorded and checked against the
role's real policy with moto's evaluator instead). The package source is the bucket alone: no index is reachable
(PIP_INDEX_URL and the proxies point at a closed port) and pip reads no configuration.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mlops.core.terraform import terraform_env
from mlops.delivery.package import CONSTRAINTS, MANIFEST, package_prefix
from mlops.infra.local import override_text
from tests.conftest import REPO_ROOT
from tests.support import iam

pytestmark = [pytest.mark.integration, pytest.mark.iam, pytest.mark.slow]  # publishing the package is most of it

VERSION = "4f2c9e1"  # a commit, as Jenkins passes it
# the env's models, all served by one process, and the tag a deploy set: churn pinned, demo-model left at its alias
MODEL_NAMES = ["demo-model", "churn"]
DEPLOYED_MODELS = "churn/5"
SERVED = "models:/demo-model@champion,models:/churn/5"
API_KEYS_PARAMETER = "/mlops/serving/api-keys"
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, any index or proxy use fails at once
TF_TIMEOUT = 300
PUBLISH_TIMEOUT = 900
MODULE = REPO_ROOT / "terraform" / "modules"
# serving-asg up to its launch template and the instance role's policies (its group and scaling policies are not)
APPLIED = ["aws_launch_template.serving", "aws_iam_role_policy.instance", "aws_iam_role_policy.package",
           "aws_iam_role_policy.api_keys", "aws_iam_role_policy.logs"]  # fmt: skip


@dataclass(frozen=True)
class Host:
    role_arn: str
    user_data: str
    port: int  # the stand-in metadata service and serving readiness


class _InstanceStandIn(http.server.BaseHTTPRequestHandler):
    """IMDSv2 (a token, the instance tags a deploy set) and the started service's readiness."""

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(200, "token" if self.path == "/latest/api/token" else None)

    def do_GET(self) -> None:  # noqa: N802
        answers = {"/latest/meta-data/tags/instance/mlops:model-version": DEPLOYED_MODELS, "/health/ready": "ready"}
        self._answer(200, answers.get(self.path))

    def _answer(self, status: int, body: str | None) -> None:
        self.send_response(status if body is not None else 404)
        self.end_headers()
        self.wfile.write((body or "").encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def instance_service() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _InstanceStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _terraform(workdir: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["terraform", f"-chdir={workdir}", *args, "-no-color"], env=env, capture_output=True,
                          text=True, timeout=TF_TIMEOUT, check=False)  # fmt: skip
    assert done.returncode == 0, f"terraform {args[0]}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def _apply_serving_asg(local_stack, port: int, workdir: Path) -> Host:
    """serving-asg with the platform's serving workload policy (modules/access-policy), applied on moto up to its
    launch template (no group: nothing boots on moto); the user data is what EC2 hands the instance."""
    settings, stack_env = local_stack.settings, local_stack.env
    ec2 = local_stack.boto3_client("ec2")
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    filters = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    (group,) = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]  # standing in for the ALB's
    bucket_arn = f"arn:aws:s3:::{settings.artifact_bucket}"
    (workdir / "main.tf").write_text(
        override_text(stack_env["AWS_ENDPOINT_URL"], settings.region, None)
        + textwrap.dedent(f"""
        module "access" {{
          source       = "{MODULE / "access-policy"}"
          read         = [{{ bucket_arn = "{bucket_arn}", prefix = "mlflow/" }}]
          kms_key_arns = ["{stack_env["MLOPS_KMS_KEY_ARN"]}"]
        }}
        module "serving" {{
          source                      = "{MODULE / "serving-asg"}"
          name                        = "mlops-boot"
          region                      = "{settings.region}"
          vpc_id                      = "{vpc["VpcId"]}"
          subnet_ids                  = ["subnet-aaaa", "subnet-bbbb"] # the group is not applied
          alb_security_group_id       = "{group["GroupId"]}"
          target_group_arns           = ["arn:aws:elasticloadbalancing:{settings.region}:123456789012:targetgroup/x/1"]
          alb_request_count_label     = "app/x/1/targetgroup/x/1"
          ami_id                      = "ami-0123456789abcdef0"
          kms_key_arn                 = "{stack_env["MLOPS_KMS_KEY_ARN"]}"
          package_bucket              = "{settings.artifact_bucket}"
          package_version             = "{VERSION}"
          model_names                 = {json.dumps(MODEL_NAMES)}
          mlflow_tracking_uri         = "{stack_env["MLFLOW_TRACKING_URI"]}"
          log_group_name              = "/mlops/boot/serving"
          policy_json                 = module.access.json
          port                        = {port}
          api_keys_parameter_name     = "{API_KEYS_PARAMETER}"
          attach_aws_managed_policies = false
        }}
        output "serving" {{
          value = {{ role = module.serving.instance_role_arn, template = module.serving.launch_template_id }}
        }}
        """)
    )
    env = {**terraform_env(), "TF_DATA_DIR": str(workdir / ".terraform")}
    _terraform(workdir, env, "init", "-backend=false", "-input=false")
    targets = [f"-target=module.serving.{t}" for t in APPLIED]
    _terraform(workdir, env, "apply", "-input=false", "-auto-approve", *targets)
    applied = json.loads(_terraform(workdir, env, "output", "-json", "serving"))
    (version,) = ec2.describe_launch_template_versions(LaunchTemplateId=applied["template"], Versions=["$Latest"])[
        "LaunchTemplateVersions"
    ]
    return Host(applied["role"], base64.b64decode(version["LaunchTemplateData"]["UserData"]).decode(), port)


@pytest.fixture(scope="module")
def deployment(local_stack, instance_service, tmp_path_factory) -> tuple[Host, str]:
    """The instance's launch template and role, and the package published by the real command (`mlops deploy
    package`) meanwhile: (the host, the prefix the package's files are under)."""
    publish = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlops"), "deploy", "package", "--env", "dev", "--version", VERSION],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        host = _apply_serving_asg(local_stack, instance_service, tmp_path_factory.mktemp("serving-asg"))
        out, err = publish.communicate(timeout=PUBLISH_TIMEOUT)
    finally:
        if publish.poll() is None:
            publish.kill()
            publish.wait()
    assert publish.returncode == 0, out + err
    assert f"s3://{local_stack.settings.artifact_bucket}/{package_prefix(VERSION)}: published" in out
    return host, package_prefix(VERSION)


@pytest.fixture(scope="module")
def host(deployment) -> Host:
    return deployment[0]


@pytest.fixture(scope="module")
def published(deployment) -> str:
    return deployment[1]


@pytest.fixture(scope="module")
def role_credentials(local_stack, host) -> dict[str, str]:
    """The instance role's STS credentials: assumed before enforcement, standing in for the instance profile."""
    return iam.assume(local_stack, host.role_arn, "i-0boot")


def _stand_in(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)


def _sandbox(base: Path, host: Host, local_stack, credentials: dict[str, str]) -> tuple[Path, Path, dict[str, str]]:
    """A host root, the rendered user data pointed at it, and the environment the boot runs in."""
    root, bin_dir, calls = base / "root", base / "bin", base / "calls.log"
    record = f'echo "$(basename "$0") $*" >> {calls}'
    for program in ("dnf", "useradd", "chown", "systemctl"):
        _stand_in(bin_dir / program, record)
    _stand_in(root / "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl", record)
    real_aws = shutil.which("aws", path=str(Path(sys.base_prefix) / "bin")) or shutil.which("aws")
    assert real_aws, "the AWS CLI (aws) is needed: the user data fetches the package with it"
    _stand_in(bin_dir / "aws", f'if [ "$1" = ssm ]; then {record}; echo stand-in-api-key; exit 0; fi\n'
                                f'exec {real_aws} "$@"')  # fmt: skip
    (bin_dir / "python3.11").symlink_to(Path(sys.base_prefix) / "bin" / "python3.11")
    # the host's absolute paths under the sandbox root; the metadata service at the stand-in
    script = re.sub(r"(?<![\w.-])/(opt|etc)/", lambda m: f"{root}/{m.group(1)}/", host.user_data)
    script = script.replace("http://169.254.169.254/latest", f"http://127.0.0.1:{host.port}/latest")
    (base / "user-data.sh").write_text(script)
    (base / "home").mkdir()
    (root / "etc/systemd/system").mkdir(parents=True)  # the host's own: systemd's unit directory
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(base / "home"), "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": local_stack.env["AWS_ENDPOINT_URL"], **credentials,
        "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "PIP_INDEX_URL": f"{CLOSED}/simple", "HTTP_PROXY": CLOSED, "HTTPS_PROXY": CLOSED, "http_proxy": CLOSED,
        "https_proxy": CLOSED, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    }  # fmt: skip
    return root, calls, env


def _boot(
    base: Path, host: Host, local_stack, credentials: dict[str, str]
) -> tuple[subprocess.CompletedProcess, Path, Path]:
    root, calls, env = _sandbox(base, host, local_stack, credentials)
    with iam.enforced(local_stack):
        done = subprocess.run(["bash", str(base / "user-data.sh")], env=env, cwd=base, capture_output=True,
                              text=True, timeout=600, check=False)  # fmt: skip
    return done, root, calls


def test_the_instance_boots_from_the_published_package_under_its_role(
    local_stack, host, published, role_credentials, tmp_path
):
    done, root, calls = _boot(tmp_path, host, local_stack, role_credentials)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    venv_python = root / "opt/mlops/venv/bin/python"
    code = "import mlops.serving, mlops.core.cli; print(mlops.serving.__file__)"
    imported = subprocess.run([str(venv_python), "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(str(root / "opt/mlops/venv/")), imported.stdout  # the venv's, not this checkout's

    # every installed distribution is at the version uv.lock pins
    wheelhouse = root / "opt/mlops/packages" / VERSION
    # the pins whose markers hold here: the venv's interpreter is this one's base (a pin per Python range, e.g. numpy)
    requirements = [Requirement(line) for line in (wheelhouse / CONSTRAINTS).read_text().splitlines() if line]
    pins = {r.name: str(r.specifier).removeprefix("==") for r in requirements if not r.marker or r.marker.evaluate()}
    frozen = subprocess.run([str(venv_python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                            timeout=120, check=True).stdout  # fmt: skip
    installed = {canonicalize_name(d["name"]): d["version"] for d in json.loads(frozen)}
    pinned = {canonicalize_name(name): version for name, version in pins.items()}
    assert {"mlops-serving", "mlops-core", "numpy", "scikit-learn"} <= set(installed)
    drifted = {n: (v, pinned[n]) for n, v in installed.items() if n in pinned and pinned[n] != v}
    assert not drifted
    assert set(installed) - set(pinned) <= {"mlops-serving", "mlops-core", "pip", "setuptools"}

    unit = (root / "etc/systemd/system/mlops-serving.service").read_text()
    program, *arguments = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).split()
    assert program == f"{root}/opt/mlops/venv/bin/mlops" and Path(program).is_file()  # the installed command
    assert arguments[:5] == ["serve", "--host", "0.0.0.0", "--port", str(host.port)]  # noqa: S104 - the unit's
    recorded = calls.read_text().splitlines()
    assert "systemctl daemon-reload" in recorded and "systemctl enable --now mlops-serving" in recorded
    served = [line for line in (root / "etc/mlops.env").read_text().splitlines() if "MLOPS_SERVE_MODEL_URI" in line]
    assert served == [f"MLOPS_SERVE_MODEL_URI={SERVED}"]  # every model of the env, in one process
    assert (root / "etc/mlops/api-keys").read_text().strip() == "stand-in-api-key"

    # the SSM read (stood in) names the parameter, and the role's real policy allows exactly that
    (ssm_call,) = [line for line in recorded if line.startswith("aws ssm")]
    assert f"--name {API_KEYS_PARAMETER}" in ssm_call
    account = local_stack.boto3_client("sts").get_caller_identity()["Account"]
    parameter = f"arn:aws:ssm:{local_stack.settings.region}:{account}:parameter{API_KEYS_PARAMETER}"
    policies = iam.role_policies(local_stack, host.role_arn)
    assert iam.allowed(policies, "ssm:GetParameter", parameter)
    assert not iam.allowed(policies, "ssm:GetParameter", f"{parameter}-other")


def test_the_role_reads_the_serving_packages_and_no_other_prefix(local_stack, host, published, role_credentials):
    bucket = local_stack.settings.artifact_bucket
    admin = local_stack.boto3_client("s3")
    outside = ["packages/tools/4f2c9e1/SHA256SUMS", "deploys/dev/record.json"]
    for key in outside:
        admin.put_object(Bucket=bucket, Key=key, Body=b"not the instances'")
    s3 = iam.client(local_stack, "s3", role_credentials)
    with iam.enforced(local_stack):
        assert s3.get_object(Bucket=bucket, Key=published + MANIFEST)["Body"].read()
        for key in outside:
            with pytest.raises(ClientError) as refused:
                s3.get_object(Bucket=bucket, Key=key)
            assert refused.value.response["Error"]["Code"] == "AccessDenied", key


def test_a_tampered_file_stops_the_boot_before_anything_is_installed(
    local_stack, host, published, role_credentials, tmp_path
):
    bucket = local_stack.settings.artifact_bucket
    admin = local_stack.boto3_client("s3")
    manifest = admin.get_object(Bucket=bucket, Key=published + MANIFEST)["Body"].read().decode()
    (target,) = [line.split()[1] for line in manifest.splitlines() if line.split()[1].startswith("mlops_serving-")]
    original = admin.get_object(Bucket=bucket, Key=published + target)["Body"].read()
    admin.put_object(Bucket=bucket, Key=published + target, Body=original + b"\0")
    try:
        done, root, calls = _boot(tmp_path, host, local_stack, role_credentials)
    finally:
        admin.put_object(Bucket=bucket, Key=published + target, Body=original)
    assert done.returncode != 0
    assert f"{target}: FAILED" in done.stdout + done.stderr
    assert f"the serving package {VERSION} does not match its SHA256SUMS" in done.stderr
    assert not (root / "opt/mlops/venv").exists()
    assert not (root / "etc/systemd/system/mlops-serving.service").exists()
    assert "systemctl" not in (calls.read_text() if calls.exists() else "")


def test_a_version_without_its_manifest_is_not_installable(local_stack, host, published, role_credentials, tmp_path):
    """What a publish that stopped half way leaves: files, no manifest."""
    bucket = local_stack.settings.artifact_bucket
    admin = local_stack.boto3_client("s3")
    manifest = admin.get_object(Bucket=bucket, Key=published + MANIFEST)["Body"].read()
    admin.delete_object(Bucket=bucket, Key=published + MANIFEST)
    try:
        done, root, _ = _boot(tmp_path, host, local_stack, role_credentials)
    finally:
        admin.put_object(Bucket=bucket, Key=published + MANIFEST, Body=manifest)
    assert done.returncode != 0
    assert f"no serving package at s3://{bucket}/{published.rstrip('/')}/" in done.stderr
    assert not (root / "opt/mlops/venv").exists()
