"""The capture samples rows, not requests, with a cap per request and per second, counts what it drops, and adds
class probabilities from the model that answered (issue 18, item 3). In process, without S3: the Parquet upload
itself is tested on the live server (tests/integration/test_serving_abuse.py)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pandas as pd
import pytest
from mlflow.types import ColSpec, Schema
from sklearn.linear_model import LogisticRegression

from mlops.core.contracts import CAPTURE_PROBABILITIES_COLUMN
from mlops.core.settings import get_settings
from mlops.serving.batching import MicroBatcher
from mlops.serving.capture import Capture
from mlops.serving.inputs import TabularSchema
from mlops.serving.model import LoadedModel

pytestmark = pytest.mark.unit
SCHEMA = TabularSchema.from_mlflow(Schema([ColSpec("double", "a"), ColSpec("double", "b")]))


def _capture(rate: float = 1.0, per_request: int = 5, per_second: float = 1000.0) -> Capture:
    settings = get_settings(
        serve_capture_sample_rate=rate,
        serve_capture_max_rows_per_request=per_request,
        serve_capture_max_rows_per_second=per_second,
    )
    return Capture(settings, "m", SCHEMA.columns)  # not started: nothing leaves the process


def _model() -> LoadedModel:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    classifier = LogisticRegression().fit(x, np.where(x["a"] > 0, "yes", "no"))
    model = LoadedModel(None, "m", "7", "models:/m/7", SCHEMA, classifier=classifier)
    model.direct = False
    return model


def test_one_large_request_adds_at_most_the_per_request_cap():
    capture, model = _capture(per_request=5), _model()
    rows = np.random.default_rng(1).normal(size=(1000, 2))
    assert capture.offer("big", model, rows, np.zeros(1000)) == 5
    assert capture.offer("small", model, rows[:2], np.zeros(2)) == 2
    assert capture.dropped == {"request_cap": 995}
    captured = [s.request_id for s in capture._pending for _ in range(len(s.rows))]
    assert captured.count("big") == 5 and captured.count("small") == 2


def test_the_per_second_cap_holds_across_requests():
    capture, model = _capture(per_request=100, per_second=10), _model()
    kept = sum(capture.offer(f"r{i}", model, np.zeros((4, 2)), np.zeros(4)) for i in range(5))
    assert kept == 10 and capture.dropped == {"rate_cap": 10}


def test_rows_are_sampled_one_by_one():
    capture, model = _capture(rate=0.1, per_request=10**6, per_second=10**9), _model()
    kept = capture.offer("r", model, np.zeros((20_000, 2)), np.zeros(20_000))
    assert 1700 < kept < 2300  # about 10% of the rows of one request, not all or nothing


def test_records_carry_class_probabilities_from_the_model_that_answered():
    capture, model = _capture(), _model()
    rows = np.array([[2.0, 0.0], [-2.0, 0.0]])
    predictions = model.classifier.predict(pd.DataFrame(rows, columns=["a", "b"]))
    capture.offer("r", model, rows, predictions)
    capture._drain()
    records = capture._rows
    assert [r["prediction"] for r in records] == ["yes", "no"]
    proba = [json.loads(r[CAPTURE_PROBABILITIES_COLUMN]) for r in records]
    assert set(proba[0]) == {"no", "yes"} and proba[0]["yes"] > 0.5 > proba[1]["yes"]
    assert all(abs(sum(p.values()) - 1) < 1e-9 for p in proba)
    assert {r["model_version"] for r in records} == {"7"}


def test_a_request_larger_than_a_batch_is_scored_in_slices_with_the_same_answers():
    model = _model()
    model.pyfunc = type("PyFunc", (), {"predict": lambda self, frame: model.classifier.predict(frame)})()
    rows = np.random.default_rng(2).normal(size=(2500, 2))

    async def run():
        batcher = MicroBatcher(max_rows=1000, max_wait_seconds=0)
        batcher.start()
        try:
            big = asyncio.ensure_future(batcher.submit(model, rows))
            await asyncio.sleep(0)
            small = await batcher.submit(model, rows[:3])
            big_done_first = big.done()
            return (await big).predictions, small.predictions, big_done_first
        finally:
            await batcher.stop()

    predictions, small, big_done_first = asyncio.run(run())
    assert not big_done_first  # the small request was answered between the slices of the big one
    expected = model.classifier.predict(pd.DataFrame(rows, columns=["a", "b"]))
    assert predictions.tolist() == expected.tolist() and small.tolist() == expected[:3].tolist()
