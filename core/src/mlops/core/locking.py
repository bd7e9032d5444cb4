"""A per-model lock that survives a crash: an `flock` on a file, which the kernel drops the moment the holding
process dies (kill -9 included), so no stale lock ever needs cleaning. The file also records who holds it.

It serialises work on one host (the retraining service runs as a single replica). Several hosts would need a
shared lock, e.g. a DynamoDB conditional write; see services/retraining/README.md.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from mlops.core.errors import MlopsError


class LockHeld(MlopsError):
    """Another process holds the lock; `holder` says who (pid, host, since, purpose)."""

    def __init__(self, path: Path, holder: dict[str, Any]):
        self.holder = holder
        super().__init__(f"{path.stem} is locked by pid {holder.get('pid')} since {holder.get('since')}")


class FileLock:
    def __init__(self, path: Path, purpose: str = ""):
        self.path = Path(path)
        self.purpose = purpose
        self._fd: int | None = None

    def holder(self) -> dict[str, Any]:
        try:
            holder: dict[str, Any] = json.loads(self.path.read_text() or "{}")
            return holder
        except (OSError, json.JSONDecodeError):
            return {}

    def acquire(self, wait_seconds: float = 0.0) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # O_CLOEXEC is Python's default: children don't inherit
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockHeld(self.path, self.holder()) from None
                time.sleep(0.1)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "purpose": self.purpose}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def is_held(self) -> bool:
        """True when some live process holds the lock (probes without taking it for long)."""
        try:
            FileLock(self.path).acquire().release()
            return False
        except LockHeld:
            return True

    def __enter__(self) -> FileLock:
        return self.acquire() if self._fd is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def lock_path(state_dir: Path, kind: str, model_name: str) -> Path:
    return Path(state_dir) / "locks" / f"{kind}-{model_name}.lock"
