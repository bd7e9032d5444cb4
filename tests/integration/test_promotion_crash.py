"""`mlops promote` killed with SIGKILL at each step (issue 18, item 7): the intent written first lets the next
promote or rollback settle the move, and `mlops lineage` reports it meanwhile; afterwards the audit record and the
aliases agree. The kill is a real SIGKILL of the real command, at a chosen step (MLOPS_FAILPOINT)."""

from __future__ import annotations

import concurrent.futures as cf
import json
import signal

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import PREVIOUS_ALIAS, Tags
from mlops.core.settings import get_settings
from mlops.registry.promotion import STEPS, pending_key, promote, repair
from tests.conftest import run_mlops

pytestmark = pytest.mark.integration
NAME = "promotion-crash"
# what the champion and previous aliases are once a promotion of 2 over 1 (previous 0: none) killed at each step
# has been settled: before the switch nothing moved; from the switch on, the move stands
SETTLED = {"intent": ("aborted", "1", None), "previous": ("aborted", "1", None),
           "champion": ("done", "2", "1"), "audit": ("done", "2", "1")}  # fmt: skip


def _model(registry: Registry, name: str) -> str:
    """A registered model with versions 1 and 2, @champion -> 1. Promotion fetches only the MLmodel file (to refuse
    a version that cannot be loaded), so that is the one artifact written."""
    aws_client("s3", get_settings()).put_object(Bucket="mlops-artifacts", Key=f"{name}/model/MLmodel",
                                                Body=b"flavors: {}\n")  # fmt: skip
    registry.client.create_registered_model(name)
    for _ in range(2):
        registry.client.create_model_version(name, source=f"s3://mlops-artifacts/{name}/model")
    registry.set_alias(name, "champion", "1")
    return name


def _audit(local_stack, key: str) -> dict | None:
    s3 = local_stack.boto3_client("s3")
    try:
        return json.loads(s3.get_object(Bucket="mlops-data", Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _promote_killed_at(name: str, step: str):
    return run_mlops("promote", name, "2", "--reason", f"killed at {step}", env={"MLOPS_FAILPOINT": f"promote:{step}"})


@pytest.fixture(scope="module")
def killed(local_stack):
    """One model per step, each promotion killed at its step (in parallel: one model each, so no lock is shared)."""
    registry = Registry()
    names = {step: _model(registry, f"{NAME}-{step}") for step in STEPS}
    with cf.ThreadPoolExecutor(len(STEPS)) as pool:
        results = dict(zip(STEPS, pool.map(lambda step: _promote_killed_at(names[step], step), STEPS), strict=True))
    return registry, names, results


@pytest.mark.parametrize("step", STEPS)
def test_a_promotion_killed_at_each_step_is_settled_and_agrees_with_the_aliases(killed, local_stack, step):
    registry, names, results = killed
    name = names[step]
    assert results[step].returncode == -signal.SIGKILL, results[step].stderr[-2000:]
    intent = _audit(local_stack, pending_key(name))
    assert intent is not None and intent["status"] == "pending" and intent["to_version"] == "2"

    lineage = CliRunner().invoke(cli, ["lineage", f"models:/{name}/1"])
    assert lineage.exit_code == 0, lineage.output
    assert f"an interrupted promote of {name} is pending" in lineage.output and "1 -> 2" in lineage.output

    settled = repair(get_settings(), registry, local_stack.boto3_client("s3"), name)  # what the next promote does first
    status, champion, previous = SETTLED[step]
    assert settled["status"] == status
    assert _audit(local_stack, pending_key(name)) is None
    record = _audit(local_stack, intent["audit_key"])
    assert record["status"] == status and record["reason"] == f"killed at {step}"
    assert registry.alias_version(name, "champion") == champion == (record["to_version"] if status == "done" else
                                                                    record["from_version"])  # fmt: skip
    assert registry.alias_version(name, PREVIOUS_ALIAS) == previous


def test_the_next_rollback_repairs_first_then_moves(local_stack):
    registry = Registry()
    name = _model(registry, f"{NAME}-rollback")
    assert _promote_killed_at(name, "champion").returncode == -signal.SIGKILL
    intent = _audit(local_stack, pending_key(name))
    result = run_mlops("rollback", name, "--reason", "back to 1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _audit(local_stack, intent["audit_key"])["status"] == "done"  # the interrupted move was completed first
    assert (registry.alias_version(name, "champion"), registry.alias_version(name, PREVIOUS_ALIAS)) == ("1", "2")
    rollback = _audit(local_stack, result.stdout.strip().split("s3://mlops-data/")[1])
    assert rollback["status"] == "done" and (rollback["from_version"], rollback["to_version"]) == ("2", "1")
    assert promote(get_settings(), name, "2", "after the repair")["status"] == "done"  # nothing is left pending


def test_a_rejected_or_unloadable_version_needs_force_and_the_audit_says_what_was_overridden(local_stack):
    """The gate's rejection and a version whose model cannot be fetched each stop `mlops promote`; --force moves the
    alias and the audit record lists what it overrode."""
    registry = Registry()
    name = _model(registry, f"{NAME}-force")
    registry.client.set_model_version_tag(name, "2", Tags.GATE_DECISION, "rejected")
    registry.client.set_model_version_tag(name, "2", Tags.GATE_REASONS, json.dumps(["roc_auc 0.61 < floor 0.7"]))
    broken = registry.client.create_model_version(name, source=f"s3://mlops-artifacts/{name}/nothing-here").version
    for version, objection in (("2", "the gate rejected it (roc_auc 0.61 < floor 0.7)"),
                               (broken, "its artifacts cannot be loaded")):  # fmt: skip
        refused = CliRunner().invoke(cli, ["promote", name, version, "--reason", "try"])
        assert refused.exit_code == 1 and objection in refused.output and "--force" in refused.output, refused.output
        assert registry.alias_version(name, "champion") == "1"  # nothing moved
    forced = run_mlops("promote", name, "2", "--reason", "hotfix, floor waived by the owner", "--force")
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert registry.alias_version(name, "champion") == "2"
    record = _audit(local_stack, forced.stdout.strip().split("s3://mlops-data/")[1])
    assert record["forced"] == {"objections": ["the gate rejected it (roc_auc 0.61 < floor 0.7)"]}
