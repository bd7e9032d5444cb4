"""Where an env's serving runs: the ALB listener, the blue/green target groups, the alarms that guard a rollout.

On AWS these come from the env's Terraform outputs (`terraform output -json` of terraform/envs/ENV, output
`deploy_targets`); any JSON file of the same shape works too (`--targets FILE`), which is how the tests use
resources made on the moto server. On EKS the deploy also reads the output `eks_workloads`: the namespace, service
accounts and IRSA role ARN of each workload (EksWorkload in mlops.core.contracts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from mlops.core.contracts import EKS_WORKLOADS_OUTPUT, ENVIRONMENTS, EksWorkload, Environment
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings, get_settings
from mlops.core.terraform import Terraform

Color = Literal["blue", "green"]
COLORS: tuple[Color, ...] = ("blue", "green")
TERRAFORM_OUTPUT = "deploy_targets"


class DeployError(MlopsError):
    """A deploy cannot start or must stop; the message says why. Nothing was changed unless it says so."""


class DeployTargets(BaseModel):
    environment: Environment
    listener_arn: str = Field(min_length=1)
    target_groups: dict[Color, str] = Field(description="color -> target group ARN")
    alarm_names: list[str] | dict[Color, list[str]] = Field(
        default_factory=list,
        description="alarms whose ALARM state rolls a canary back: a list (whatever the color), or by color (only the "
        "new color's are watched, so a failing live color does not block the deploy that fixes it)",
    )
    serving_target: Literal["asg", "eks"] = "asg"
    asg_names: dict[Color, str] = Field(default_factory=dict, description="color -> ASG (asg)")
    service_url: str | None = Field(None, description="the env's serving endpoint, for the smoke test")
    artifact_bucket: str | None = Field(
        None, description="the env's artifacts bucket, where the deploy writes its record and the live release"
    )
    model_names: list[str] | None = Field(
        None,
        description="the env's models (Terraform model_names): one serving process per host or pod serves them all, "
        "and a deploy of another model is refused; None does not check",
    )

    def settings_for(self, settings: Settings) -> Settings:
        """`settings` pointed at this env's artifacts bucket: a Jenkins agent has no MLOPS_ARTIFACT_BUCKET per env,
        the apply's targets have it."""
        if self.artifact_bucket is None:
            return settings
        return settings.model_copy(update={"artifact_bucket": self.artifact_bucket})

    def check_serves(self, model: str) -> None:
        """DeployError when the env does not serve `model`: its hosts would not load it (serving-asg model_names)."""
        if self.model_names is not None and model not in self.model_names:
            raise DeployError(
                f"{self.environment} serves {', '.join(self.model_names)}, not {model}: add {model} to the env's "
                f"model_names (terraform/envs/{self.environment}) and apply before deploying it"
            )

    def alarms_for(self, new_color: Color) -> list[str]:
        """The alarms that guard a canary moving traffic to `new_color`."""
        if isinstance(self.alarm_names, dict):
            return self.alarm_names.get(new_color, [])
        return self.alarm_names

    @model_validator(mode="after")
    def _both_colors(self) -> DeployTargets:
        if set(self.target_groups) != set(COLORS):
            raise ValueError("target_groups needs exactly the colors 'blue' and 'green'")
        if self.serving_target == "asg" and set(self.asg_names) != set(COLORS):
            raise ValueError("asg_names needs 'blue' and 'green' when serving_target is 'asg'")
        return self


def load_targets(
    environment: str, targets_file: Path | None = None, terraform_dir: Path | None = None
) -> DeployTargets:
    """The env's targets from a JSON file, or else from its Terraform output (terraform/envs/ENV by default)."""
    if environment not in ENVIRONMENTS:
        raise DeployError(f"unknown env {environment!r}: expected one of {', '.join(ENVIRONMENTS)}")
    if targets_file is not None:
        source = str(targets_file)
        try:
            raw = json.loads(targets_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DeployError(f"cannot read deploy targets {targets_file}: {exc}") from None
    else:
        tf = Terraform.for_env(environment, get_settings(), terraform_dir)
        source = f"terraform output {TERRAFORM_OUTPUT} in {tf.workdir}"
        try:
            raw = tf.output(TERRAFORM_OUTPUT)
        except MlopsError as exc:  # Terraform missing, not initialised, or the output not there
            raise DeployError(str(exc)) from None
    if not isinstance(raw, dict):
        raise DeployError(f"{source} is not a JSON object")
    if raw.get("environment", environment) != environment:
        raise DeployError(f"{source} describes env {raw['environment']!r}, not {environment!r}")
    try:
        return DeployTargets(**{"environment": environment, **raw})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise DeployError(f"invalid deploy targets in {source}: {problems}") from None


def load_eks_workloads(environment: str, terraform_dir: Path | None = None) -> dict[str, EksWorkload]:
    """The env's `eks_workloads` Terraform output (terraform/envs/ENV by default): per workload, the namespace and
    service accounts its IRSA role trusts and the role's ARN. DeployError naming the output when it cannot be read,
    is empty (the env runs without EKS) or is malformed."""
    if environment not in ENVIRONMENTS:
        raise DeployError(f"unknown env {environment!r}: expected one of {', '.join(ENVIRONMENTS)}")
    tf = Terraform.for_env(environment, get_settings(), terraform_dir)
    source = f"terraform output {EKS_WORKLOADS_OUTPUT} in {tf.workdir}"
    try:
        raw = tf.output(EKS_WORKLOADS_OUTPUT)
    except MlopsError as exc:  # Terraform missing, not initialised, or the output not there
        raise DeployError(str(exc)) from None
    if not isinstance(raw, dict):
        raise DeployError(f"{source} is not a JSON object")
    if not raw:
        raise DeployError(f"{source} is empty: {environment} has no EKS cluster (enable_eks = false)")
    workloads: dict[str, EksWorkload] = {}
    problems: list[str] = []
    for name, value in raw.items():
        try:
            workloads[name] = EksWorkload.model_validate(value)
        except ValidationError as exc:
            problems += [f"{'.'.join(map(str, (name, *e['loc'])))}: {e['msg']}" for e in exc.errors()]
    if problems:
        raise DeployError(f"invalid {source}: {'; '.join(problems)}")
    return workloads


def serving_workload(environment: str, terraform_dir: Path | None = None) -> EksWorkload:
    """Serving's entry of the env's `eks_workloads` output (see load_eks_workloads)."""
    workloads = load_eks_workloads(environment, terraform_dir)
    if "serving" not in workloads:
        raise DeployError(
            f"terraform output {EKS_WORKLOADS_OUTPUT} of {environment} has no serving workload "
            f"(it has {', '.join(sorted(workloads))})"
        )
    return workloads["serving"]
