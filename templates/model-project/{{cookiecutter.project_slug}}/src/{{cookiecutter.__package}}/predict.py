"""Asking the served model: the request body `mlops serve` takes, and a smoke test against a running endpoint that
sends rows of the project's own data (`make smoke`).

    python -m {{ cookiecutter.__package }}.predict --url http://127.0.0.1:8080 --rows 5

The API key comes from the MLOPS_API_KEY environment variable (never from the command line or Git). It first waits
up to --wait seconds for the endpoint to report ready, so `make serve &` followed by `make smoke` works.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import pandas as pd

from {{ cookiecutter.__package }}.features import FEATURES, load_data


def request_body(frame: pd.DataFrame) -> dict:
    """MLflow's `dataframe_split` form, with exactly the model's input columns."""
    return {"dataframe_split": {"columns": FEATURES, "data": frame[FEATURES].to_numpy().tolist()}}


def wait_until_ready(url: str, wait_seconds: float) -> None:
    """Poll the open readiness route until it answers 200; a server still loading its model answers 503 or nothing."""
    import httpx

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if httpx.get(f"{url.rstrip('/')}/health/ready", timeout=5.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not ready after {wait_seconds:g} s (is `make serve` running?)")
        time.sleep(0.5)


def predict(url: str, frame: pd.DataFrame, api_key: str | None, timeout: float = 30.0) -> list:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = httpx.post(f"{url.rstrip('/')}/invocations", json=request_body(frame), headers=headers, timeout=timeout)
    response.raise_for_status()
    predictions = response.json()["predictions"]
    if len(predictions) != len(frame):
        raise ValueError(f"asked for {len(frame)} predictions, got {len(predictions)}")
    return predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke test: send rows of the project's data to a serving endpoint.")
    parser.add_argument("--url", required=True, help="Serving base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--rows", type=int, default=5, help="How many rows to send")
    parser.add_argument("--wait", type=float, default=60.0, help="Seconds to wait for the endpoint to be ready")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.wait < 0:
        parser.error("--wait must not be negative")
    try:
        wait_until_ready(args.url, args.wait)
        predictions = predict(args.url, load_data(args.rows, seed=1), os.environ.get("MLOPS_API_KEY"))
    except Exception as exc:  # any transport or HTTP failure is a failed smoke test, said in one line
        print(f"Error: {args.url}: {exc}", file=sys.stderr)
        return 1
    print(f"{len(predictions)} predictions: {predictions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
