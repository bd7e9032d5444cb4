"""The Jenkins dry run's agent and controller: what a build of the pipeline (tests/support/jenkins_pipeline.py) gets
from jenkins/casc/jenkins.yaml and from the agent it runs on, here on the local stack.

- The controller's environment feeds JCasC's ${...}; the agent's node environment is then exactly JCasC's
  globalNodeProperties plus the agent's own process environment (PATH, HOME) and its identity.
- The agent's identity stands in for an instance profile: session credentials of the role `mlops-jenkins`, issued by
  the local stack's STS. `withAWS` assumes the env's role from them, through the same STS.
- Each stage with an agent checks the commit out into a fresh workspace (a clone of the build's origin).
- What the dry run points at the local stack, which a real agent does not have: MLOPS_STATE_DIR (the stack's
  state dir, where `mlops` finds its endpoints), LOCAL=1 (the Makefile's switch to `mlops infra --local` and no
  instance refresh, which moto lacks) and TF_VAR_enable_eks=false (EKS is left out of the local apply for time,
  as the dev apply test always has; its module is plan-tested).
- The canary watches each traffic step for MLOPS_CANARY_WATCH_SECONDS (seconds on a real account); the dry run
  sets it to a fraction of a second, as the canary tests do.
- moto, served over plain HTTP, reads the buckets' TLS-only deny (`aws:SecureTransport`) as unconditional, so
  `make deploy` runs with those policies lifted and put back byte for byte (tests/support/iam.py), as the IAM tests
  do; plan-level tests prove the policies themselves.
- Make targets in DRY_TARGETS run as `make -n` (the target resolves with exactly that environment) instead of for
  real: lint, tests and scan are this very suite (and tests/integration/test_security_scan.py; release-scan's tools:
  tests/integration/test_release_evidence.py; package's real publish and boot: tests/integration/test_ec2_boot.py),
  the smoke test needs a load balancer that answers, which moto's does not, and `make stack-down` would stop the
  local stack the dry run itself runs on (the build did not start it). `make image` needs a Docker engine, which no
  machine here has: the agent pushes the image manifest with ECR's PutImage instead, the
  last call `docker push` makes. These are the dry run's only stand-ins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import git
import yaml

from mlops.core.paths import REPO_ROOT
from tests.support import iam
from tests.support.jenkins_pipeline import CASC

JENKINS_ROLE = "mlops-jenkins"
DRY_TARGETS = frozenset(
    {"lint", "test-unit", "test-integration", "test-bake", "scan", "release-scan", "package", "smoke", "stack-down"}
)
TIMEOUT = 900
# an image manifest as docker push writes it; its sha256 is the digest ECR reports
IMAGE_MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "0" * 64,
        },
        "layers": [],
    },
    separators=(",", ":"),
)
IMAGE_DIGEST = "sha256:" + hashlib.sha256(IMAGE_MANIFEST.encode()).hexdigest()


# a controller's environment for walking builds without running them (the dry run uses the local stack's account)
EXAMPLE_CONTROLLER = {
    "MLOPS_GITHUB_ORG": "acme", "MLOPS_NOTIFY_TO": "mlops@acme.example", "MLOPS_ACCOUNT_DEV": "111111111111",
    "MLOPS_ACCOUNT_STAGING": "222222222222", "MLOPS_ACCOUNT_PROD": "333333333333",
}  # fmt: skip


class RecordingAgent:
    """Records each command and answers `exit_codes`; hands out fake session credentials per role."""

    def __init__(self, root: Path, exit_codes: dict[str, int] | None = None):
        self.root, self.exit_codes, self.count = root, exit_codes or {}, 0

    def checkout(self) -> Path:
        self.count += 1
        workspace = self.root / f"ws{self.count}"
        (workspace / "reports" / "plans").mkdir(parents=True)
        for env in ("dev", "staging", "prod"):  # what `make plan` leaves
            (workspace / "reports" / "plans" / f"{env}.tfplan").write_text(env)
        return workspace

    def sh(self, stage, script, env, workspace) -> int:
        return next((code for prefix, code in self.exit_codes.items() if script.startswith(prefix)), 0)

    def assume_role(self, role_arn, session, duration, env):
        return {
            "AWS_ACCESS_KEY_ID": "ASIA" + role_arn.rsplit("/", 1)[1],
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_SESSION_TOKEN": "y",
        }


def snapshot_origin(root: Path) -> Path:
    """A bare origin whose main is the checkout as it is now (tracked and new files, not ignored ones): on CI, a
    clean clone of main; on a laptop, what is about to be committed."""
    work = root / "snapshot"
    git.Repo.clone_from(str(REPO_ROOT), work)
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        )
        .stdout.decode()
        .split("\0")
    )
    keep = {f for f in files if f and (REPO_ROOT / f).is_file()}
    for path in (
        subprocess.run(["git", "ls-files", "-z"], cwd=work, capture_output=True, check=True, timeout=60)
        .stdout.decode()
        .split("\0")
    ):
        if path and path not in keep:
            (work / path).unlink()
    for relative in keep:
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / relative, work / relative)
    repo = git.Repo(work)
    repo.git.add("-A")
    if repo.is_dirty(index=True):
        repo.index.commit("the checkout as it is (dry run)")
    bare = root / "origin.git"
    git.Repo.clone_from(str(work), bare, bare=True)
    return bare


def _machine_network() -> dict[str, str]:
    """The machine's own network and package-index settings (CA bundles, proxies, pip/uv index options), which a
    real agent has from its host as well: `make setup` fetches build backends through them."""
    wanted = ("CERT", "CA_BUNDLE", "PROXY")
    return {k: v for k, v in os.environ.items()
            if any(w in k.upper() for w in wanted) or k.startswith(("PIP_", "UV_"))}  # fmt: skip


def _tls_only_buckets(stack) -> list[str]:
    """The buckets with a TLS-only policy: moto, served over plain HTTP, reads that deny as unconditional."""
    s3 = stack.boto3_client("s3")
    found = []
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        with contextlib.suppress(s3.exceptions.ClientError):
            if "aws:SecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]:
                found.append(bucket)
    return found


def node_environment(controller_env: dict[str, str]) -> dict[str, str]:
    """JCasC's globalNodeProperties, with ${VAR} read from the controller's environment (a missing one fails, as
    JCasC refuses to start on an unresolved variable)."""
    casc = yaml.safe_load(CASC.read_text())
    out = {}
    for prop in casc["jenkins"]["globalNodeProperties"]:
        for item in prop["envVars"]["env"]:
            out[item["key"]] = resolve(item["value"], controller_env)
    return out


def resolve(value: str, controller_env: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        if match.group(1) not in controller_env:
            raise KeyError(f"jenkins.yaml needs {match.group(1)} from the controller's environment")
        return controller_env[match.group(1)]

    return re.sub(r"\$\{(\w+)\}", one, str(value))


@dataclass
class LocalAgent:
    """An agent on this machine, against the local stack (see the module docstring for what differs)."""

    stack: object
    origin: Path
    root: Path
    dry_targets: frozenset[str] = DRY_TARGETS
    recorded_targets: set[str] = field(default_factory=set)  # make targets whose AWS calls moto's recorder keeps
    eks: bool = False
    log: list[tuple[str, str, int, str]] = field(default_factory=list)  # (stage, command, status, output tail)
    issued: dict[str, str] = field(default_factory=dict)  # access key id -> role ARN it was issued for
    recorded: list[dict] = field(default_factory=list)
    recorded_keys: set[str] = field(default_factory=set)  # access key ids of the recorded commands

    def __post_init__(self) -> None:
        self.sts = self.stack.boto3_client("sts")
        roles = self.stack.boto3_client("iam")
        account = self.sts.get_caller_identity()["Account"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}
            ],
        }
        # the agents' instance profile role (on AWS, created with the agents, outside this repository)
        with contextlib.suppress(roles.exceptions.EntityAlreadyExistsException):
            roles.create_role(RoleName=JENKINS_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        self.identity = self._assume(f"arn:aws:iam::{account}:role/{JENKINS_ROLE}", "i-0jenkinsagent", 3600, None)
        self.account = account
        self.workspaces = 0

    def process_env(self) -> dict[str, str]:
        """The agent's own environment: its PATH (without this suite's venv), HOME (its caches), the host's network
        settings, its identity, and the local-stack switches (module docstring)."""
        venv = str(Path(os.sys.executable).parent)
        path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv)
        return {
            "PATH": path,
            "HOME": os.environ["HOME"],
            "LANG": "C.UTF-8",
            **self.identity,
            **_machine_network(),
            "MLOPS_STATE_DIR": str(self.stack.settings.state_dir),
            "LOCAL": "1",
            "MLOPS_CANARY_WATCH_SECONDS": "0.3",
            "MLOPS_CANARY_POLL_SECONDS": "0.1",
            **({} if self.eks else {"TF_VAR_enable_eks": "false"}),
        }

    def checkout(self) -> Path:
        self.workspaces += 1
        workspace = self.root / f"workspace-{self.workspaces}"
        git.Repo.clone_from(str(self.origin), workspace, branch="main")
        return workspace

    def sh(self, stage: str, script: str, env: dict[str, str], workspace: Path) -> int:
        argv = shlex.split(script)
        target = argv[1] if argv[:1] == ["make"] and len(argv) > 1 else None
        if target in self.dry_targets:
            argv = ["make", "-n", *argv[1:]]
        recorded = target in self.recorded_targets
        started = time.monotonic()
        lifted = _tls_only_buckets(self.stack) if target == "deploy" else []
        with (
            iam.tls_policies_lifted(self.stack, lifted),
            iam.recording(self.stack) if recorded else contextlib.nullcontext([]) as calls,
        ):
            if target == "image":
                status, output = self._push_image(env), ""
            else:
                result = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True,
                                        timeout=TIMEOUT, check=False)  # fmt: skip
                status, output = result.returncode, (result.stdout + result.stderr)[-6000:]
        if recorded:
            self.recorded_keys.add(env.get("AWS_ACCESS_KEY_ID", ""))
        self.recorded.extend(calls)
        self.log.append((stage, " ".join(argv), status, output))
        print(f"[dry run] {stage}: {' '.join(argv)} -> {status} in {time.monotonic() - started:.0f} s")  # pytest -s
        return status

    def assume_role(self, role_arn: str, session: str, duration: int, env: dict[str, str]) -> dict[str, str]:
        return self._assume(role_arn, session, duration, env)

    def _assume(self, role_arn: str, session: str, duration: int, env: dict[str, str] | None) -> dict[str, str]:
        client = self.sts if env is None else iam.client(self.stack, "sts", env)
        found = client.assume_role(RoleArn=role_arn, RoleSessionName=session, DurationSeconds=duration)
        credentials = found["Credentials"]
        self.issued[credentials["AccessKeyId"]] = role_arn
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def _push_image(self, env: dict[str, str]) -> int:
        """`make image` without Docker: the manifest push, under the stage's credentials."""
        ecr = iam.client(self.stack, "ecr", env)
        tag = env.get("GIT_COMMIT", "")[:12]
        with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):  # a retried build pushes again
            ecr.put_image(
                repositoryName=self.stack.settings.ecr_repository,
                imageManifest=IMAGE_MANIFEST,
                imageTag=tag,
                imageDigest=IMAGE_DIGEST,
            )
        return 0

    def failures(self) -> str:
        return "\n\n".join(
            f"[{stage}] {command} -> {status}\n{output}" for stage, command, status, output in self.log if status != 0
        )
