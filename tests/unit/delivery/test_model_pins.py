"""Several models per serving color: a deploy of one model pins its new version and keeps every other model at the
version the live color pins (mlops.delivery.rollout.pin_versions, the launch template's `mlops:model-version` tag);
the no-op check and `release diff` look at the deployed model's entry alone (mlops.delivery.unchanged); a model the
env does not serve is refused before anything changes (DeployTargets.model_names). On moto:
tests/integration/test_deploy_canary.py."""

from __future__ import annotations

import pytest

from mlops.delivery.preflight import Artifact
from mlops.delivery.rollout import pin_versions, roll_asg
from mlops.delivery.targets import DeployError
from mlops.delivery.unchanged import live_color_runs, pinned_version
from tests.support.deploy_fakes import DIGEST, IMAGE_URI, TARGETS, FakeAws

pytestmark = pytest.mark.unit
FRAUD_3 = Artifact(IMAGE_URI, DIGEST, "fraud", "3")
LIVE = {"mlops:model-version": "churn/7 fraud/2", "mlops:image": IMAGE_URI, "mlops:image-digest": DIGEST}


def test_a_deploy_moves_its_model_and_keeps_the_others_as_the_live_color_pins_them():
    assert pin_versions(LIVE, FRAUD_3) == "churn/7 fraud/3"
    assert pin_versions(LIVE, Artifact(IMAGE_URI, DIGEST, "demo-model", "1")) == "churn/7 demo-model/1 fraud/2"
    assert pin_versions({}, FRAUD_3) == "fraud/3"  # nothing deployed yet: the others serve their default alias
    assert pin_versions({"mlops:model-version": "fraud/2"}, FRAUD_3) == "fraud/3"  # a tag from before several models
    # a model the env no longer serves is not carried over
    assert pin_versions(LIVE, FRAUD_3, model_names=["fraud", "demo-model"]) == "fraud/3"


def test_a_malformed_live_tag_stops_the_deploy_naming_it():
    with pytest.raises(DeployError, match=r"live color's launch template: .*'churn/07'"):
        pin_versions({"mlops:model-version": "churn/07 fraud/2"}, FRAUD_3)


def test_a_pin_list_over_the_tag_limit_stops_the_deploy():
    live = {"mlops:model-version": " ".join(f"model-{n:02d}-with-a-long-name/123" for n in range(8))}
    with pytest.raises(DeployError, match="over EC2's 256"):
        pin_versions(live, Artifact(IMAGE_URI, DIGEST, "one-more-model-with-a-long-name", "1"))


def test_the_idle_color_gets_the_merged_pins_from_the_live_colors_template():
    aws = FakeAws(live_tags=LIVE)  # blue is live and runs launch template version 1
    rolled = roll_asg(aws, aws, TARGETS, "green", FRAUD_3, instance_refresh=False)
    data = aws.versions[rolled.version]
    tags = {t["Key"]: t["Value"] for s in data["TagSpecifications"] for t in s["Tags"]}
    assert tags["mlops:model-version"] == "churn/7 fraud/3"
    assert aws.groups["svc-green"]["LaunchTemplate"]["Version"] == rolled.version
    assert aws.groups["svc-blue"]["LaunchTemplate"]["Version"] == "1"  # the live color untouched


def test_a_model_the_env_does_not_serve_is_refused_before_any_change():
    aws = FakeAws(live_tags=LIVE)
    targets = TARGETS.model_copy(update={"model_names": ["churn", "demo-model"]})
    with pytest.raises(DeployError) as refused:
        roll_asg(aws, aws, targets, "green", FRAUD_3, instance_refresh=False)
    assert "dev serves churn, demo-model, not fraud" in str(refused.value) and "model_names" in str(refused.value)
    assert aws.writes == []
    targets.check_serves("churn")  # listed: no error
    TARGETS.check_serves("fraud")  # targets that name no models (an older output): no check


def test_the_no_op_check_looks_at_the_deployed_models_entry_only():
    live = {"blue": 100, "green": 0}
    assert live_color_runs(LIVE, live, "blue", Artifact(IMAGE_URI, DIGEST, "churn", "7"))
    assert live_color_runs(LIVE, live, "blue", Artifact(IMAGE_URI, DIGEST, "fraud", "2"))
    assert not live_color_runs(LIVE, live, "blue", FRAUD_3)
    assert not live_color_runs(LIVE, live, "blue", Artifact(IMAGE_URI, DIGEST, "demo-model", "7"))  # not pinned
    assert not live_color_runs({**LIVE, "mlops:model-version": "churn/7 churn/8"}, live, "blue", FRAUD_3)


def test_the_pinned_version_of_one_model():
    assert pinned_version(LIVE, "fraud") == "2" and pinned_version(LIVE, "demo-model") is None
    assert pinned_version({}, "fraud") is None
    assert pinned_version({"mlops:model-version": "fraud"}, "fraud") is None  # malformed: nothing pinned to trust
