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
- Stages a test names run as `make -n` (the target resolves with exactly that environment) instead of for real:
  the lint and test stages are this very suite, and the smoke test needs a real load balancer. `make image` needs a
  Docker engine, which no machine here has: the agent pushes the image manifest with ECR's PutImage instead, the
  last call `docker push` makes. These are the dry run's only stand-ins.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import git
import yaml

from mlops.core.paths import REPO_ROOT
from tests.support.jenkins_pipeline import CASC

JENKINS_ROLE = "mlops-jenkins"
TIMEOUT = 900
# an image manifest as docker push writes it; its sha256 is the digest ECR reports
IMAGE_MANIFEST = json.dumps(
    {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:" + "0" * 64},
     "layers": []}, separators=(",", ":"))  # fmt: skip
IMAGE_DIGEST = "sha256:" + hashlib.sha256(IMAGE_MANIFEST.encode()).hexdigest()


def snapshot_origin(root: Path) -> Path:
    """A bare origin whose main is the checkout as it is now (tracked and new files, not ignored ones): on CI, a
    clean clone of main; on a laptop, what is about to be committed."""
    work = root / "snapshot"
    git.Repo.clone_from(str(REPO_ROOT), work)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                           capture_output=True, check=True, timeout=60).stdout.decode().split("\0")  # fmt: skip
    keep = {f for f in files if f and (REPO_ROOT / f).is_file()}
    for path in subprocess.run(["git", "ls-files", "-z"], cwd=work, capture_output=True, check=True,
                               timeout=60).stdout.decode().split("\0"):  # fmt: skip
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
    dry_stages: set[str] = field(default_factory=set)
    log: list[tuple[str, str, int, str]] = field(default_factory=list)  # (stage, command, status, output tail)
    issued: dict[str, str] = field(default_factory=dict)  # access key id -> role ARN it was issued for

    def __post_init__(self) -> None:
        self.sts = self.stack.boto3_client("sts")
        iam = self.stack.boto3_client("iam")
        account = self.sts.get_caller_identity()["Account"]
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"Service": "ec2.amazonaws.com"}}]}  # fmt: skip
        try:
            iam.create_role(RoleName=JENKINS_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        self.identity = self._assume(f"arn:aws:iam::{account}:role/{JENKINS_ROLE}", "i-0jenkinsagent", 3600, None)
        self.account = account
        self.workspaces = 0

    def process_env(self) -> dict[str, str]:
        """The agent's own environment: its PATH (without this suite's venv), HOME (its caches), its identity, and
        the three local-stack switches."""
        venv = str(Path(os.sys.executable).parent)
        path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv)
        return {
            "PATH": path, "HOME": os.environ["HOME"], "LANG": "C.UTF-8", **self.identity,
            "MLOPS_STATE_DIR": str(self.stack.settings.state_dir), "LOCAL": "1", "TF_VAR_enable_eks": "false",
        }  # fmt: skip

    def checkout(self) -> Path:
        self.workspaces += 1
        workspace = self.root / f"workspace-{self.workspaces}"
        git.Repo.clone_from(str(self.origin), workspace, branch="main")
        return workspace

    def sh(self, stage: str, script: str, env: dict[str, str], workspace: Path) -> int:
        argv = shlex.split(script)
        if argv[:1] == ["make"] and argv[1:2] == ["image"]:
            return self._push_image(env)
        if stage in self.dry_stages:
            argv = ["make", "-n", *argv[1:]]
        result = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                                check=False)  # fmt: skip
        output = (result.stdout + result.stderr)[-6000:]
        self.log.append((stage, " ".join(argv), result.returncode, output))
        return result.returncode

    def assume_role(self, role_arn: str, session: str, duration: int, env: dict[str, str]) -> dict[str, str]:
        return self._assume(role_arn, session, duration, env)

    def _assume(self, role_arn: str, session: str, duration: int, env: dict[str, str] | None) -> dict[str, str]:
        client = self.sts if env is None else self.stack.boto3_client(
            "sts", aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"])  # fmt: skip
        found = client.assume_role(RoleArn=role_arn, RoleSessionName=session, DurationSeconds=duration)
        credentials = found["Credentials"]
        self.issued[credentials["AccessKeyId"]] = role_arn
        return {"AWS_ACCESS_KEY_ID": credentials["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
                "AWS_SESSION_TOKEN": credentials["SessionToken"]}  # fmt: skip

    def _push_image(self, env: dict[str, str]) -> int:
        """`make image` without Docker: the manifest push, under the stage's credentials."""
        ecr = self.stack.boto3_client(
            "ecr", aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"])  # fmt: skip
        tag = env.get("GIT_COMMIT", "")[:12]
        try:
            ecr.put_image(repositoryName=self.stack.settings.ecr_repository, imageManifest=IMAGE_MANIFEST,
                          imageTag=tag, imageDigest=IMAGE_DIGEST)  # fmt: skip
        except ecr.exceptions.ImageAlreadyExistsException:
            pass
        self.log.append(("image", f"ecr put_image {tag}", 0, ""))
        return 0

    def failures(self) -> str:
        return "\n\n".join(f"[{stage}] {command} -> {status}\n{output}" for stage, command, status, output in self.log
                           if status != 0)  # fmt: skip
