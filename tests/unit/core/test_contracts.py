"""The shared formats of mlops.core.contracts: model references, S3 keys, the drift event, and the places outside
Python (Terraform) that spell the same strings. (The release policy's envs: tests/unit/release/test_manifest.py.)"""

import datetime as dt
import json

import pytest

from mlops.core.contracts import (
    ENVIRONMENTS,
    MODEL_VERSION_INSTANCE_TAG,
    SERVING_ENV_INSTANCE_TAG,
    DriftEvent,
    ModelRef,
    ModelUriError,
    Tags,
    capture_key,
    capture_prefix,
    consumed_event_key,
    drift_event_key,
    drift_events_prefix,
    drift_report_prefix,
    labels_prefix,
)
from mlops.core.errors import MlopsError
from mlops.core.paths import ENVS_DIR, TERRAFORM_DIR

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "uri", ["models:/", "runs:/abc/model", "models:/name/v1", "models:/a@b@c", "name", "models:/m/0", "models:/m@"]
)
def test_a_bad_model_uri_is_named_with_the_forms_expected(uri):
    with pytest.raises(ModelUriError, match=r"not a model URI.*models:/NAME/VERSION.*models:/NAME@ALIAS") as error:
        ModelRef.parse(uri)
    assert repr(uri) in str(error.value)  # names what it was given
    assert issubclass(ModelUriError, MlopsError)  # every command prints it as one line, exit 1


def test_model_refs_round_trip():
    by_alias, by_version = ModelRef.parse("models:/churn@champion"), ModelRef.parse(" models:/churn/3 ")
    assert (by_alias.name, by_alias.alias, by_alias.version) == ("churn", "champion", None) and by_alias.follows_alias
    assert (by_version.version, by_version.follows_alias) == ("3", False)
    assert ModelRef.parse(by_alias.uri) == by_alias and ModelRef.parse(str(by_version)) == by_version


def test_capture_and_label_keys_sort_by_day_under_one_prefix_per_model():
    at = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    key = capture_key("churn", at, "abc")
    assert key.startswith(capture_prefix("churn", at.date())) and key.endswith("050607-abc.parquet")
    assert labels_prefix("churn", at.date()) != capture_prefix("churn", at.date())
    assert "date=2026-03-04" in labels_prefix("churn", at.date())


def test_event_keys_of_one_model_stay_apart_from_other_models_and_markers():
    key = drift_event_key("churn", "20260101T000000Z", "e1")
    assert key.startswith(drift_events_prefix("churn")) and not key.startswith(drift_events_prefix("chur"))
    assert not consumed_event_key("churn", "e1").startswith(drift_events_prefix("churn"))
    assert drift_report_prefix("churn", "s", "e1") != drift_events_prefix("churn")


def test_drift_event_round_trips_and_says_when_it_asks_for_a_retrain():
    event = DriftEvent(event_id="e1", model_name="m", detected_at="2026-01-01T00:00:00+00:00", dataset_drift=False)
    assert not event.asks_for_retrain
    assert DriftEvent.model_validate_json(event.model_dump_json()) == event
    assert event.model_copy(update={"performance_drift": True}).asks_for_retrain
    body = json.loads(event.model_dump_json())
    assert {"event_id", "model_name", "detected_at", "dataset_drift", "drift_share"} <= set(body)


@pytest.mark.parametrize("field", ["dataset_drift", "performance_drift", "multivariate_drift",
                                   "estimated_performance_drift"])  # fmt: skip
def test_every_kind_of_drift_asks_for_a_retrain(field):
    event = DriftEvent(event_id="e1", model_name="m", detected_at="2026-01-01T00:00:00+00:00", dataset_drift=False)
    assert event.model_copy(update={field: True}).asks_for_retrain


def test_a_drift_event_from_before_multivariate_and_estimates_still_reads():
    old = {"event_id": "e1", "model_name": "m", "detected_at": "2026-01-01T00:00:00+00:00", "dataset_drift": True}
    event = DriftEvent.model_validate(old)
    assert event.multivariate_drift is False and event.estimated_performance == {} and event.asks_for_retrain
    full = event.model_copy(update={"multivariate_score": 0.4, "estimated_performance": {"accuracy": 0.81}})
    assert DriftEvent.model_validate_json(full.model_dump_json()) == full


def test_data_tags_map_back_to_their_paths():
    tags = {Tags.data_md5("data/raw.csv"): "a" * 32, Tags.GIT_COMMIT: "c", "other": "x"}
    assert Tags.data_paths(tags) == {"data/raw.csv": "a" * 32}


def test_the_env_names_are_the_terraform_envs():
    assert sorted(ENVIRONMENTS) == sorted(p.name for p in ENVS_DIR.iterdir() if (p / "main.tf").is_file())


def test_terraform_reads_the_instance_tags_a_deploy_writes():
    user_data = (TERRAFORM_DIR / "modules/serving-asg/templates/user-data.sh.tftpl").read_text()
    assert f"tags/instance/{MODEL_VERSION_INSTANCE_TAG}" in user_data
    assert f"tags/instance/{SERVING_ENV_INSTANCE_TAG}" in user_data
