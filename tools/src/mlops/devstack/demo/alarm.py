"""The drift alarm of the demo: the same CloudWatch alarm Terraform's cloudwatch module defines (custom namespace,
DriftShare per model), created on the local stack.

moto stores alarms and metrics but has no alarm evaluator, so `evaluate()` stands in for AWS's: it reads the
metric back from CloudWatch, applies the alarm's own statistic, threshold and comparison, and sets the alarm state.
On AWS, CloudWatch does this by itself and this method is not used.
"""

from __future__ import annotations

import datetime as dt

from mlops.core.clients import aws_client
from mlops.core.settings import Settings

DRIFT_METRIC = "DriftShare"  # published by `mlops drift run` (mlops.drift.publish)


class DriftAlarm:
    def __init__(self, settings: Settings, model: str, threshold: float = 0.5, period_seconds: int = 300):
        self.model, self.namespace = model, settings.metrics_namespace
        self.name = f"mlops-drift-{model}"
        self.threshold, self.period = threshold, period_seconds
        self.cloudwatch = aws_client("cloudwatch", settings)

    def create(self) -> None:
        self.cloudwatch.put_metric_alarm(
            AlarmName=self.name,
            AlarmDescription=f"Share of drifted features of {self.model} is at or above {self.threshold}.",
            Namespace=self.namespace,
            MetricName=DRIFT_METRIC,
            Dimensions=[{"Name": "Model", "Value": self.model}],
            Statistic="Maximum",
            Period=self.period,
            EvaluationPeriods=1,
            Threshold=self.threshold,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
        )

    def evaluate(self) -> dict:
        now = dt.datetime.now(dt.UTC)
        points = self.cloudwatch.get_metric_statistics(
            Namespace=self.namespace,
            MetricName=DRIFT_METRIC,
            Dimensions=[{"Name": "Model", "Value": self.model}],
            StartTime=now - dt.timedelta(seconds=self.period),
            EndTime=now + dt.timedelta(seconds=60),
            Period=self.period,
            Statistics=["Maximum"],
        )["Datapoints"]
        value = max((p["Maximum"] for p in points), default=None)
        state = "ALARM" if value is not None and value >= self.threshold else "OK"
        reason = f"{DRIFT_METRIC} maximum {value} vs threshold {self.threshold} over {self.period}s"
        self.cloudwatch.set_alarm_state(AlarmName=self.name, StateValue=state, StateReason=reason)
        stored = self.cloudwatch.describe_alarms(AlarmNames=[self.name])["MetricAlarms"][0]
        return {"name": self.name, "state": stored["StateValue"], "value": value, "threshold": self.threshold}
