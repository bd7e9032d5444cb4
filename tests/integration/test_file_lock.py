"""The per-model file lock survives a crash: killing the process that holds it (kill -9) frees it, with no stale
lock to clean up by hand. Needs a second process, so it is an integration test."""

import signal
import subprocess
import sys
import time

import pytest

from mlops.core.locking import FileLock

pytestmark = pytest.mark.integration


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
