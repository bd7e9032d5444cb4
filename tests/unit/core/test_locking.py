"""The per-model file lock, in one process: a second holder is refused and told who holds it. (That the kernel drops
the lock when the holder is killed takes a second process: tests/integration/test_file_lock.py.)"""

import os

import pytest

from mlops.core.locking import FileLock, LockHeld

pytestmark = pytest.mark.unit


def test_lock_excludes_a_second_holder_and_says_who_holds_it(tmp_path):
    path = tmp_path / "locks" / "retrain-m.lock"
    with FileLock(path, purpose="drift"):
        with pytest.raises(LockHeld) as held:
            FileLock(path).acquire()
        assert held.value.holder["pid"] == os.getpid() and held.value.holder["purpose"] == "drift"
        assert FileLock(path).is_held()
    assert not FileLock(path).is_held()
