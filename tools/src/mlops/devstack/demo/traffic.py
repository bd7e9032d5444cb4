"""Real HTTP traffic for the demo: single-row MLflow-format requests from a thread pool, every answer recorded."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import numpy as np
import pandas as pd


@dataclass
class TrafficStats:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # x-model-version -> count
    transport_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, seconds: float, status: int | None, version: str | None) -> None:
        with self._lock:
            if status is None:
                self.transport_errors += 1
                return
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if version:
                self.versions[version] = self.versions.get(version, 0) + 1

    def merge(self, other: TrafficStats) -> None:
        self.latencies += other.latencies
        self.transport_errors += other.transport_errors
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        for version, count in other.versions.items():
            self.versions[version] = self.versions.get(version, 0) + count

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.transport_errors

    @property
    def errors(self) -> int:
        return self.transport_errors + sum(n for status, n in self.statuses.items() if status != 200)

    def p99_ms(self) -> float:
        return float(np.percentile(self.latencies, 99) * 1000) if self.latencies else float("nan")


class TrafficClient:
    def __init__(self, base_url: str, api_key: str, concurrency: int = 8):
        self.url = base_url.rstrip("/") + "/invocations"
        self.concurrency = concurrency
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=concurrency),
        )

    def close(self) -> None:
        self.client.close()

    def _one(self, row: dict, stats: TrafficStats) -> None:
        body = {"dataframe_split": {"columns": list(row), "data": [list(row.values())]}}
        started = time.perf_counter()
        try:
            response = self.client.post(self.url, json=body)
        except httpx.HTTPError:
            stats.record(time.perf_counter() - started, None, None)
            return
        stats.record(time.perf_counter() - started, response.status_code, response.headers.get("x-model-version"))

    def send(self, frame: pd.DataFrame, on_progress=None) -> TrafficStats:
        """One request per row, `concurrency` at a time."""
        stats = TrafficStats()
        rows = frame.to_dict(orient="records")
        with ThreadPoolExecutor(self.concurrency) as pool:
            for done, _ in enumerate(pool.map(lambda r: self._one(r, stats), rows), start=1):
                if on_progress:
                    on_progress(done)
        return stats


class BackgroundTraffic:
    """Keeps requests flowing (one worker, rows cycled) until stopped or `max_seconds` pass, whichever is first."""

    def __init__(self, client: TrafficClient, frame: pd.DataFrame, max_seconds: float, pause_seconds: float = 0.02):
        self.client, self.rows = client, frame.to_dict(orient="records")
        self.max_seconds, self.pause_seconds = max_seconds, pause_seconds
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def __enter__(self) -> BackgroundTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        i = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.client._one(self.rows[i % len(self.rows)], self.stats)
            i += 1
            self._stop.wait(self.pause_seconds)
