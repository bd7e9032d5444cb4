"""The retraining service's pure parts: its config, the cron schedule, drift event parsing and the crash-safe lock."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from mlops.core.errors import MlopsError
from mlops.core.locking import FileLock, LockHeld
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
    with pytest.raises(MlopsError, match=r"model 'other' is not in the retraining config \(configured: m\)"):
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
    assert events[4].problem == "model_name 'other' != 'm'"
    assert [e.event_id for e in triggering(events)] == ["e1"]


def test_lock_excludes_a_second_holder_and_says_who_holds_it(tmp_path):
    path = tmp_path / "locks" / "retrain-m.lock"
    with FileLock(path, purpose="drift"):
        with pytest.raises(LockHeld) as held:
            FileLock(path).acquire()
        assert held.value.holder["pid"] == os.getpid() and held.value.holder["purpose"] == "drift"
        assert FileLock(path).is_held()
    assert not FileLock(path).is_held()


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    path = tmp_path / "retrain-m.lock"
    code = (
        "import sys, time; from mlops.core.locking import FileLock; "
        "FileLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert FileLock(path).is_held()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 5
        while FileLock(path).is_held() and time.monotonic() < deadline:
            time.sleep(0.05)
        lock = FileLock(path).acquire()  # no stale lock to clean up by hand
        lock.release()
    finally:
        holder.kill()
        holder.wait()
