"""Adaptive micro-batching: concurrent requests become one predict call, then their answers are split back.

One predict runs at a time, in a worker thread, so the event loop keeps accepting requests meanwhile; whatever
queued up during a predict forms the next batch (up to `max_rows`). When recent predicts show several active
callers, the batcher holds an idle batch open until that many requests are queued, but never past `max_wait`
after the oldest queued request arrived (nor past half a predict call).

A request larger than `max_rows` is scored in slices of `max_rows`, each queued only after the previous one is
answered, so requests that arrive meanwhile are batched in between: one large request cannot hold the predict
thread for the whole of its rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mlops.serving.inputs import ClientError, Rows
from mlops.serving.metrics import metrics
from mlops.serving.model import LoadedModel

log = logging.getLogger("mlops.serving.batching")


@dataclass
class Scored:
    model: LoadedModel
    predictions: object  # this request's slice: ndarray, DataFrame, Series or list


@dataclass
class _Item:
    model: LoadedModel  # the model whose signature parsed the rows; the batch is scored by the same one
    rows: Rows  # np.ndarray or list of rows, in signature order
    arrived: float
    future: asyncio.Future


def _slice(predictions, start: int, stop: int):
    if hasattr(predictions, "iloc"):
        return predictions.iloc[start:stop]
    return predictions[start:stop]


def _concat(parts: list):
    """The predictions of consecutive slices of one request, as one result of the same kind."""
    first = parts[0]
    if hasattr(first, "iloc"):
        import pandas as pd

        return pd.concat(parts)
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    return [p for part in parts for p in part]


def score(model: LoadedModel, groups: list) -> list[object]:
    """Predict all groups (one per request) in one call and split the result; on failure, score each group alone
    so that one bad request cannot fail its neighbours. Returns one prediction slice or ClientError per group."""
    if len(groups) > 1:
        total = sum(len(g) for g in groups)
        try:
            predictions = _timed_predict(model, groups)
            if len(predictions) == total:
                out, start = [], 0
                for group in groups:
                    out.append(_slice(predictions, start, start + len(group)))
                    start += len(group)
                return out
        except Exception:  # noqa: BLE001 - isolate the failing request below
            log.debug("batched predict failed; scoring requests one by one", exc_info=True)
    results = []
    for group in groups:
        try:
            results.append(_timed_predict(model, [group]))
        except Exception as exc:  # noqa: BLE001 - the model rejected this input: a client error, never a 500
            log.warning("model could not score a request", extra={"error_type": type(exc).__name__})
            results.append(ClientError(422, f"the model could not score this input ({type(exc).__name__})", "body"))
    return results


def _timed_predict(model: LoadedModel, groups: list):
    m = metrics()
    assert model.schema is not None  # only models with a signature are batched (the data plane routes the others)
    started = time.perf_counter()
    predictions = model.predict(model.schema.frame(groups))
    m.predict_latency.labels(model.name).observe(time.perf_counter() - started)
    return predictions


class MicroBatcher:
    def __init__(self, max_rows: int, max_wait_seconds: float):
        self.max_rows = max_rows
        self.max_wait = max_wait_seconds
        self.queue: deque[_Item] = deque()
        self.queued_rows = 0
        # moving average of the requests in play when a predict ends (scored + queued): how many callers are
        # active. Closed-loop callers answered by one batch come back just after the next batch started, so
        # without waiting for them the callers split into two half-size batches that alternate forever.
        self.concurrency = 1.0
        self.predict_seconds = 0.0  # moving average of one predict call
        self._wake = asyncio.Event()
        self._enough = asyncio.Event()
        self._target = 1 << 30
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        while self.queue:
            await asyncio.sleep(0.01)
        if self._task:
            self._task.cancel()
        self._pool.shutdown(wait=True)

    async def run_alone(self, fn, *args):
        """Run `fn` on the predict thread, outside any batch (models the fast path does not cover)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def submit(self, model: LoadedModel, rows) -> Scored:
        if len(rows) <= self.max_rows:
            return Scored(model, await self._submit_one(model, rows))
        parts = [await self._submit_one(model, rows[i : i + self.max_rows]) for i in range(0, len(rows), self.max_rows)]
        return Scored(model, _concat(parts))

    async def _submit_one(self, model: LoadedModel, rows):
        loop = asyncio.get_running_loop()
        item = _Item(model, rows, loop.time(), loop.create_future())
        self.queue.append(item)
        self.queued_rows += len(rows)
        self._wake.set()
        if len(self.queue) >= self._target:
            self._enough.set()
        result = await item.future
        if isinstance(result, ClientError):
            raise result
        return result

    def _take(self) -> list[_Item]:
        batch = [self.queue.popleft()]
        rows = len(batch[0].rows)
        while self.queue and self.queue[0].model is batch[0].model and rows + len(self.queue[0].rows) <= self.max_rows:
            item = self.queue.popleft()
            rows += len(item.rows)
            batch.append(item)
        self.queued_rows -= rows
        return batch

    async def _fill(self, loop) -> None:
        """Hold an idle batch open until as many requests as there are active callers are queued, for at most max_wait
        after the oldest arrived (and at most half a predict call, so waiting never costs more than it saves)."""
        target = max(2, round(self.concurrency))
        if self.max_wait <= 0 or self.concurrency < 1.05 or len(self.queue) >= target:
            return
        if self.queued_rows >= self.max_rows:
            return
        remaining = self.queue[0].arrived + min(self.max_wait, 0.5 * self.predict_seconds) - loop.time()
        if remaining <= 0:
            return
        self._enough.clear()
        self._target = target
        try:
            await asyncio.wait_for(self._enough.wait(), remaining)
        except TimeoutError:
            pass
        finally:
            self._target = 1 << 30

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        m = metrics()
        while True:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._fill(loop)
            batch = self._take()
            name = batch[0].model.name
            m.batch_requests.labels(name).observe(len(batch))
            m.batch_rows.labels(name).observe(sum(len(i.rows) for i in batch))
            started = loop.time()
            try:
                results = await loop.run_in_executor(self._pool, score, batch[0].model, [i.rows for i in batch])
            except Exception as exc:  # noqa: BLE001 - never leave a request hanging
                log.exception("predict thread failed")
                results = [exc] * len(batch)
            self.predict_seconds = 0.8 * self.predict_seconds + 0.2 * (loop.time() - started)
            self.concurrency = 0.8 * self.concurrency + 0.2 * (len(batch) + len(self.queue))
            for item, result in zip(batch, results, strict=True):
                if item.future.done():
                    continue
                if isinstance(result, Exception) and not isinstance(result, ClientError):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)
