"""An environment's Terraform made ready to run: its backend initialised and its -var arguments built, against AWS
(the remote state terraform/bootstrap creates) or, with `local`, against the local stack through a generated
endpoints override (`mlops.infra.local`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops.core.errors import MlopsError
from mlops.core.locking import FileLock
from mlops.core.paths import ENVS_DIR
from mlops.core.settings import Settings, get_settings
from mlops.core.terraform import Terraform, local_data_dir, terraform_env
from mlops.infra import local as localstack

# Where each env's state lives in the bootstrap's bucket: the S3 backend's `key`; its lock is the object beside it,
# `<key>.tflock` (use_lockfile, in the envs' backend block). terraform/bootstrap gives each env's Terraform roles
# exactly these two objects (tests/unit/infra/test_terraform_roles.py ties the two).
STATE_KEY = "envs/{env}/terraform.tfstate"
LOCAL_SETUP_WAIT_SECONDS = 900  # a first bootstrap on a fresh stack takes a minute or two; a parallel run waits


@dataclass
class Prepared:
    tf: Terraform
    var_args: list[str]


def state_key(env_name: str) -> str:
    return STATE_KEY.format(env=env_name)


def cli_variables(settings: Settings) -> dict[str, str]:
    """The variables `mlops infra` passes to every env itself; all others come from the env's terraform.tfvars or
    their defaults (tests/unit/infra/test_terraform_roles.py and envs/*/tests check that none is left without)."""
    return {"region": settings.region}


def prepare(env_name: str, local: bool, variables: list[str], var_file: Path | None) -> Prepared:
    """Initialise the env's backend and build its -var arguments, for AWS or for the local stack."""
    settings = get_settings()
    env = terraform_env()
    workdir = ENVS_DIR / env_name
    var_args = [f"-var={key}={value}" for key, value in cli_variables(settings).items()]
    if local:
        localstack.endpoint()  # fails early, with the fix, when the stack is not running
        # plans of several envs at once (Jenkins runs them in parallel) share the stack's bootstrap and its one
        # certificate: create both under a lock, so they exist once and every env gets the same
        lock = FileLock(settings.state_dir / "locks" / "local-infra.lock", "mlops infra --local: bootstrap").acquire(
            wait_seconds=LOCAL_SETUP_WAIT_SECONDS
        )
        try:
            outputs = localstack.bootstrap(settings, env)
            certificate = localstack.certificate_arn(settings)
        finally:
            lock.release()
        backend = {"bucket": outputs["state_bucket"], "key": state_key(env_name), "kms_key_id": outputs["kms_key_arn"]}
        text = localstack.override_text(localstack.endpoint(), settings.region, backend)
        tf = Terraform(workdir, env, local_data_dir(settings, env_name))
        localstack.prepare_env(workdir, text, tf)
        local_vars = {
            **localstack.LOCAL_ENV_VARS,
            "certificate_arn": certificate,
            "mlflow_tracking_uri": env.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
            "attach_aws_managed_policies": str(localstack.managed_policies_loaded(settings)).lower(),
        }
        var_args += [f"-var={key}={value}" for key, value in local_vars.items()]
    else:
        localstack.remove_override(workdir)  # a leftover local override must never reach AWS
        if not settings.tf_state_bucket or not settings.tf_state_kms_key_arn:
            raise MlopsError(
                "MLOPS_TF_STATE_BUCKET and MLOPS_TF_STATE_KMS_KEY_ARN must be set: apply terraform/bootstrap once per "
                "account and export its state_bucket and kms_key_arn outputs (see terraform/README.md), or use --local"
            )
        tf = Terraform(workdir, env)
        tf.init(
            f"bucket={settings.tf_state_bucket}",
            f"key={state_key(env_name)}",
            f"region={settings.region}",
            f"kms_key_id={settings.tf_state_kms_key_arn}",  # the state and its lock file under the bootstrap's CMK
        )
    if var_file:
        var_args.append(f"-var-file={var_file}")
    var_args += [f"-var={item}" for item in variables]  # the user's values come last and win
    return Prepared(tf, var_args)
