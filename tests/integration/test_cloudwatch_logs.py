"""Services ship their JSON logs to CloudWatch Logs (the moto server here) without blocking the caller."""

import json
import logging
import time

import pytest

from mlops.core.cloudwatch_logs import CloudWatchLogsHandler
from mlops.core.logs import JsonFormatter, configure_logging, request_id_var

pytestmark = pytest.mark.integration


def test_log_lines_reach_the_log_group_as_json(local_stack, monkeypatch):
    handler = configure_logging("INFO", log_group="/mlops/test-shipping", region=local_stack.settings.region)
    try:
        token = request_id_var.set("req-cw-1")
        for i in range(250):
            logging.getLogger("mlops.serving").info("request %d", i, extra={"latency_seconds": 0.001 * i})
        request_id_var.reset(token)
    finally:
        handler.close()
        configure_logging("INFO")
    logs = local_stack.boto3_client("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/mlops/test-shipping")["logStreams"]
    events = logs.get_log_events(
        logGroupName="/mlops/test-shipping", logStreamName=stream["logStreamName"], startFromHead=True
    )["events"]
    messages = [json.loads(e["message"]) for e in events]
    assert [m["message"] for m in messages] == [f"request {i}" for i in range(250)]
    assert {m["request_id"] for m in messages} == {"req-cw-1"}
    assert handler.sent == 250 and handler.dropped == 0


def test_unreachable_endpoint_never_blocks_and_counts_drops(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")  # pragma: allowlist secret
    handler = CloudWatchLogsHandler("/mlops/nowhere", region="us-east-1", max_queue=100, flush_seconds=0.2, retries=1)
    handler.setFormatter(JsonFormatter())
    logger = logging.Logger("isolated")
    logger.addHandler(handler)
    started = time.perf_counter()
    for i in range(1000):
        logger.info("line %d", i)
    assert time.perf_counter() - started < 0.5  # 1000 lines: only queue puts, no network on the caller's thread
    handler.close()
    assert handler.sent == 0
    assert handler.dropped == 1000  # overflowed the 100-line queue or failed after retries, all counted
