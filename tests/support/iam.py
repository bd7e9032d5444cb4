"""IAM on the local stack's moto server, the way the env's roles meet it on AWS.

moto enforces IAM once a number is POSTed to /moto-api/reset-auth: every request must then be signed by
credentials moto issued (here: each role's own, from STS) and is checked against that identity's policies. What
moto 5.2 evaluates, read from its source (moto/iam/access_control.py, moto/core/authorization.py):
- S3: against the real bucket or object ARN. That is checked live (`enforced`).
- every other service: against the resource "*", so a statement scoped to an ARN never matches, and CloudWatch
  is checked as `monitoring:*` (its signing name), not `cloudwatch:*`. A least-privilege role therefore cannot run
  a deploy on moto with enforcement on. For those calls the test records what the real command sent
  (`recording`) and evaluates each call against the role's real policy with the call's real resource ARN, using
  moto's own policy evaluator (`denied_calls`).
- role trust: moto checks AWS principals only, not `Service` or federated ones, so the roles are assumed before
  enforcement, standing in for EC2's instance profile, EKS's token exchange or Jenkins' STS call. Trust policies
  are checked at plan level instead.
- condition keys: moto passes no request context, so conditions (s3:prefix, cloudwatch:namespace,
  iam:PassedToService) are not evaluated; and it reads a bucket policy's `Bool aws:SecureTransport` deny as
  unconditional, which refuses every object request to a TLS-only bucket (`tls_policies_lifted`).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import requests
from botocore.parsers import RpcV2CBORParser
from moto.iam.access_control import IAMPolicy, PermissionResult

TIMEOUT = 10
# the SigV4 signing name -> the IAM action prefix, where they differ
IAM_PREFIX = {"monitoring": "cloudwatch"}
# calls IAM authorizes against "*" only (no resource-level permissions exist for them)
UNSCOPED = {
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeInstanceRefreshes",
    "ec2:DescribeLaunchTemplateVersions",
    "ecr:GetAuthorizationToken",
}


@dataclass(frozen=True)
class Call:
    action: str  # IAM action, e.g. elasticloadbalancing:ModifyListener
    params: dict
    path: str


def assume(stack, role_arn: str, session: str) -> dict[str, str]:
    """Credentials of `role_arn` as environment variables (for a subprocess or boto3)."""
    creds = stack.boto3_client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def client(stack, service: str, creds: dict[str, str]):
    import boto3

    return boto3.client(
        service,
        endpoint_url=stack.env["AWS_ENDPOINT_URL"],
        region_name=stack.settings.region,
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds["AWS_SESSION_TOKEN"],
    )


def _moto_api(stack, path: str, data: bytes | None = None) -> requests.Response:
    url = f"{stack.env['AWS_ENDPOINT_URL']}/moto-api/{path}"
    method = "GET" if data is None else "POST"
    response = requests.request(method, url, data=data, timeout=TIMEOUT)
    response.raise_for_status()
    return response


@contextlib.contextmanager
def enforced(stack) -> Iterator[None]:
    """IAM enforced for every request until the block ends (then unauthenticated again, for the other tests)."""
    _moto_api(stack, "reset-auth", b"0")
    try:
        yield
    finally:
        _moto_api(stack, "reset-auth", b"inf")


@contextlib.contextmanager
def recording(stack) -> Iterator[list[dict]]:
    """Every request moto receives in the block, as moto's recorder wrote it (filled in when the block ends)."""
    entries: list[dict] = []
    _moto_api(stack, "recorder/reset-recording", b"")
    _moto_api(stack, "recorder/start-recording", b"")
    try:
        yield entries
    finally:
        _moto_api(stack, "recorder/stop-recording", b"")
        text = _moto_api(stack, "recorder/download-recording").text
        entries.extend(json.loads(line) for line in text.splitlines() if line.strip())


@contextlib.contextmanager
def tls_policies_lifted(stack, buckets: list[str]) -> Iterator[None]:
    """moto reads the TLS-only deny (`Bool aws:SecureTransport false`) as unconditional; lift the buckets'
    policies for the block and put them back byte for byte (plan-level tests prove the policies themselves)."""
    s3 = stack.boto3_client("s3")
    policies = {bucket: s3.get_bucket_policy(Bucket=bucket)["Policy"] for bucket in buckets}
    for bucket in buckets:
        s3.delete_bucket_policy(Bucket=bucket)
    try:
        yield
    finally:
        for bucket, policy in policies.items():
            s3.put_bucket_policy(Bucket=bucket, Policy=policy)


def calls_signed_by(entries: list[dict], access_key_id: str) -> list[Call]:
    """The AWS calls in a recording that were signed with `access_key_id`, as IAM actions with their parameters."""
    calls = []
    for entry in entries:
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        scope = re.search(r"Credential=([^/]+)/\d+/[^/]+/([^/]+)/", headers.get("authorization", ""))
        if not scope or scope.group(1) != access_key_id:
            continue
        service = IAM_PREFIX.get(scope.group(2), scope.group(2))
        raw = entry.get("body") or ""
        # moto's recorder keeps non-text bodies (CloudWatch's CBOR) base64-encoded
        body = base64.b64decode(raw) if entry.get("body_encoded") else raw.encode()
        path = urllib.parse.urlsplit(entry["url"]).path
        if service == "s3":
            calls.append(_s3_call(entry["method"], entry["url"]))
        elif "x-amz-target" in headers:  # the JSON protocol (ECR, DynamoDB): X-Amz-Target: <Prefix>.<Operation>
            operation = headers["x-amz-target"].rsplit(".", 1)[1]
            calls.append(Call(f"{service}:{operation}", json.loads(body or b"{}"), path))
        elif "/operation/" in path:  # Smithy RPC v2 CBOR: /service/<name>/operation/<Operation>
            params = RpcV2CBORParser().parse_data_item(io.BytesIO(body)) if body else {}
            calls.append(Call(f"{service}:{path.rsplit('/', 1)[1]}", params, path))
        else:  # the query protocol: Action=... in the form body
            params = dict(urllib.parse.parse_qsl(body.decode()))
            calls.append(Call(f"{service}:{params.get('Action')}", params, path))
    return calls


def _s3_call(method: str, url: str) -> Call:
    parts = urllib.parse.urlsplit(url)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    if not key:
        action = {"GET": "s3:ListBucket", "HEAD": "s3:ListBucket"}.get(method, f"s3:{method}Bucket")
        return Call(action, {"bucket": bucket, **query}, parts.path)
    action = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject", "DELETE": "s3:DeleteObject"}
    return Call(action.get(method, f"s3:{method}"), {"bucket": bucket, "key": urllib.parse.unquote(key)}, parts.path)


def role_policies(stack, role_arn: str) -> list[str]:
    """The inline policy documents of a role, as moto stores them (what Terraform put there)."""
    iam = stack.boto3_client("iam")
    name = role_arn.rsplit("/", 1)[1]
    return [
        json.dumps(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
    ]


def allowed(policies: list[str], action: str, resource: str) -> bool:
    """moto's evaluator over a role's policies: an explicit deny wins, else any allow."""
    results = [IAMPolicy(p).is_action_permitted(action, resource) for p in policies]
    return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results


def resources_of(stack, call: Call, account: str) -> list[str]:
    """The ARNs IAM authorizes `call` against on AWS (["*"] for the calls IAM cannot scope to a resource)."""
    region, p = stack.settings.region, call.params
    service = call.action.split(":", 1)[0]
    if service == "s3":
        return [f"arn:aws:s3:::{p['bucket']}/{p['key']}" if "key" in p else f"arn:aws:s3:::{p['bucket']}"]
    if call.action == "elasticloadbalancing:ModifyListener":
        return [p["ListenerArn"]]
    if call.action in UNSCOPED:
        return ["*"]
    if service == "autoscaling":
        groups = stack.boto3_client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[p["AutoScalingGroupName"]]
        )["AutoScalingGroups"]
        return [groups[0]["AutoScalingGroupARN"]]
    if call.action == "ec2:CreateLaunchTemplateVersion":
        return [f"arn:aws:ec2:{region}:{account}:launch-template/{p['LaunchTemplateId']}"]
    if service == "ecr":
        return [f"arn:aws:ecr:{region}:{account}:repository/{n}" for n in p.get("repositoryNames", [])] or [
            f"arn:aws:ecr:{region}:{account}:repository/{p['repositoryName']}"
        ]
    if call.action == "cloudwatch:DescribeAlarms":
        return [f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}" for name in p.get("AlarmNames", ["*"])]
    if service == "dynamodb":
        return [f"arn:aws:dynamodb:{region}:{account}:table/{p['TableName']}"]
    raise LookupError(f"no resource rule for {call.action} ({call.path}): add one to tests/support/iam.py")


def denied_calls(stack, calls: list[Call], policies: list[str]) -> list[str]:
    """Each call the policies would refuse on AWS, as "action on resource" (sts:GetCallerIdentity needs no grant),
    and each call this module cannot place, so an unknown call fails the test instead of passing it."""
    denied = []
    account = stack.boto3_client("sts").get_caller_identity()["Account"]
    for call in calls:
        if call.action == "sts:GetCallerIdentity":
            continue
        try:
            resources = resources_of(stack, call, account)
        except LookupError as unknown:
            denied.append(str(unknown))
            continue
        denied += [f"{call.action} on {r}" for r in resources if not allowed(policies, call.action, r)]
    return denied
