"""The retraining service's pure parts: its config, the cron schedule and drift event parsing. (The lock it takes
per model is mlops.core.locking: tests/unit/core/test_locking.py.)"""

import datetime as dt

import pytest

from mlops.core.errors import MlopsError
from mlops.retraining.config import RetrainConfig, load_config
from mlops.retraining.events import _parse, triggering
from mlops.retraining.service import Scheduler

pytestmark = pytest.mark.unit
UTC = dt.UTC


def write(tmp_path, text):
    path = tmp_path / "retrain.yaml"
    path.write_text(text)
    return path


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(MlopsError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(MlopsError, match="no retraining config"):
        load_config(None)
    bad_cron = write(tmp_path, "models:\n  - {name: m, project: /p, schedule: 'every day'}\n")
    with pytest.raises(MlopsError, match=r"models.0.schedule: .*'every day' is not a cron expression"):
        load_config(bad_cron)
    twice = write(tmp_path, "models:\n  - {name: m, project: /p}\n  - {name: m, project: /q}\n")
    with pytest.raises(MlopsError, match="listed twice"):
        load_config(twice)
    config = load_config(write(tmp_path, "models:\n  - {name: m, project: /p}\n"))
    with pytest.raises(MlopsError, match=r"'other' is not in the retraining config.*configured: m"):
        config.get("other")


def test_cron_schedule_fires_once_per_slot_and_collapses_missed_slots():
    config = RetrainConfig.model_validate(
        {"models": [{"name": "hourly", "project": "/p", "schedule": "0 * * * *"}, {"name": "drift", "project": "/q"}]}
    )
    start = dt.datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    scheduler = Scheduler(config, start)
    hourly, drift_only = config.models
    assert scheduler.due_at == {"hourly": dt.datetime(2026, 1, 1, 11, 0, tzinfo=UTC)}
    assert not scheduler.due(hourly, start + dt.timedelta(minutes=30))
    late = dt.datetime(2026, 1, 1, 13, 5, tzinfo=UTC)  # three slots passed while busy: one run
    assert scheduler.due(hourly, late) and not scheduler.due(drift_only, late)
    scheduler.ran(hourly, late)
    assert scheduler.due_at["hourly"] == dt.datetime(2026, 1, 1, 14, 0, tzinfo=UTC)
    assert not scheduler.due(hourly, late)


def test_drift_event_parsing():
    good = b'{"event_id": "e1", "model_name": "m", "detected_at": "t", "dataset_drift": true, "drift_share": 0.5}'
    quiet = b'{"event_id": "e2", "model_name": "m", "detected_at": "t", "dataset_drift": false}'
    events = [
        _parse("events/drift/m/1.json", good, "m"),
        _parse("events/drift/m/2.json", quiet, "m"),
        _parse("events/drift/m/3.json", b"{not json", "m"),
        _parse("events/drift/m/4.json", b'{"event_id": "e4"}', "m"),
        _parse("events/drift/m/5.json", good.replace(b'"m"', b'"other"'), "m"),
    ]
    assert [e.problem for e in events[:3]] == [None, None, "not valid JSON"]
    assert all(field in events[3].problem for field in ("model_name", "detected_at", "dataset_drift"))
    assert events[3].event_id == "e4"  # an unusable event is still marked consumed, under its own id
    assert "model_name" in events[4].problem and "'other'" in events[4].problem
    assert [e.event_id for e in triggering(events)] == ["e1"]


def test_release_evidence_belongs_to_a_release_and_the_config_may_carry_it(tmp_path):
    from click.testing import CliRunner

    from mlops.retraining.cli import retrain

    result = CliRunner().invoke(retrain, ["run", "--model", "m", "--release-evidence", str(tmp_path)])
    assert result.exit_code == 2 and "--release-evidence needs --release-env" in result.output
    config = load_config(write(tmp_path, "models:\n  - {name: m, project: /p, release: {env: dev, evidence: rep}}\n"))
    assert str(config.get("m").release.evidence) == "rep"
