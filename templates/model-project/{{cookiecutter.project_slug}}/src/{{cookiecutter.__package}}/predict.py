"""Asking the served model: the request body `mlops serve` takes, and a smoke test against a running endpoint that
sends rows of the project's own data (`make smoke`).

    python -m {{ cookiecutter.__package }}.predict --url http://127.0.0.1:8080 --rows 5

The API key comes from the MLOPS_API_KEY environment variable (never from the command line or Git).
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from {{ cookiecutter.__package }}.features import FEATURES, load_data


def request_body(frame: pd.DataFrame) -> dict:
    """MLflow's `dataframe_split` form, with exactly the model's input columns."""
    return {"dataframe_split": {"columns": FEATURES, "data": frame[FEATURES].to_numpy().tolist()}}


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
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    try:
        predictions = predict(args.url, load_data(args.rows, seed=1), os.environ.get("MLOPS_API_KEY"))
    except Exception as exc:  # any transport or HTTP failure is a failed smoke test, said in one line
        print(f"Error: {args.url}: {exc}", file=sys.stderr)
        return 1
    print(f"{len(predictions)} predictions: {predictions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
