"""The demo's steps, in order. Each step prints one line with its time; any step that does not do what it should
stops the demo with a non-zero exit naming the step. Everything runs through the same `mlops` commands a user or
Jenkins runs, against the local stack."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import yaml

from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import ModelRef, Tags, drift_events_prefix
from mlops.core.settings import Settings
from mlops.devstack.demo.alarm import DriftAlarm
from mlops.devstack.demo.prometheus import PrometheusError, scrape_and_query
from mlops.devstack.demo.traffic import BackgroundTraffic, TrafficClient, TrafficStats
from mlops.devstack.stack import LocalStack
from mlops.training.example import add_data_version, make_dataset
from mlops.training.project import Project

RAW = "data/raw.csv"


class DemoFailed(RuntimeError):
    pass


@dataclass
class Demo:
    settings: Settings
    seed: int = 7
    requests_per_phase: int = 400
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%m%d%H%M%S")
        self.model = f"demo{stamp}"  # a fresh registered model per run; slugs allow letters and digits only
        self.workdir = (self.settings.state_dir / "demo" / self.model).resolve()
        self.api_key = secrets.token_urlsafe(24)
        self.stats = TrafficStats()
        self._server: subprocess.Popen | None = None

    # ---- plumbing -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def step(self, number: int, title: str):
        click.echo(f"[{number}/8] {title} ...")
        started = time.perf_counter()
        try:
            yield
        except DemoFailed as exc:
            raise DemoFailed(f"step {number} ({title}) failed: {exc}") from None
        except Exception as exc:  # anything unforeseen still names the step, without a traceback
            raise DemoFailed(f"step {number} ({title}) failed: {type(exc).__name__}: {exc}") from None
        self.timings[title] = time.perf_counter() - started
        click.echo(f"[{number}/8] {title}: done in {self.timings[title]:.1f}s")

    def mlops(self, *args: str, log_name: str, env: dict | None = None, cwd: Path | None = None) -> str:
        """Run an `mlops` command; its output goes to a log file, and its last lines into the error if it fails."""
        log = self.workdir / "logs" / f"{log_name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [str(Path(sys.executable).parent / "mlops"), *args]
        with log.open("w") as out:
            result = subprocess.run(
                command, stdout=subprocess.PIPE, stderr=out, text=True, env={**os.environ, **(env or {})}, cwd=cwd
            )
        log.write_text(log.read_text() + result.stdout)
        if result.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-15:])
            raise DemoFailed(f"`mlops {' '.join(args)}` exited {result.returncode} (log {log}):\n{tail}")
        return result.stdout

    # ---- the lifecycle --------------------------------------------------------------------------------------
    def run(self, with_prometheus: bool = False) -> dict:
        try:
            with self.step(1, "start the local stack and scaffold a model project"):
                self._scaffold()
            with self.step(2, "version data v1 with DVC, train, gate and promote the first champion"):
                self.facts["v1"] = self._retrain("initial", expect_version="1")
            with self.step(3, "serve models:/NAME@champion with capture on"):
                self._serve()
            with self.step(4, "send realistic traffic, then traffic from a shifted distribution"):
                self._traffic()
            with self.step(5, "drift check: reports, CloudWatch metric and alarm, drift event"):
                self._drift()
            # requests keep flowing while the champion changes, so a failed or mixed answer would show
            with BackgroundTraffic(self.client, self.shifted, max_seconds=600) as background:
                with self.step(6, "retraining takes the drift event: data v2, train, gate, promote"):
                    self.facts["v2"] = self._retrain_from_event()
                with self.step(7, "the server hot-reloads the new champion under load"):
                    self._await_reload(background)
            self.stats.merge(background.stats)
            with self.step(8, "summary" + (" (and a real Prometheus scraping the server)" if with_prometheus else "")):
                if with_prometheus:
                    self.facts["prometheus"] = self._prometheus_query()
                if self.stats.errors:
                    raise DemoFailed(f"{self.stats.errors} of {self.stats.requests} requests failed")
        finally:
            self._stop_server()
        return self.facts

    def _scaffold(self) -> None:
        endpoints, _ = LocalStack(self.settings).up()
        os.environ.update({k: v for k, v in endpoints.items() if k not in os.environ})
        self.facts["mlflow_ui"] = endpoints["MLFLOW_TRACKING_URI"]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.mlops("new-model", self.model, "--no-input", "--output-dir", str(self.workdir), log_name="new-model")
        self.project = self.workdir / self.model
        params = yaml.safe_load((self.project / "params.yaml").read_text())
        self.features = params["data"]["features"]
        self.retrain_config = self.workdir / "retrain.yaml"
        self.retrain_config.write_text(yaml.safe_dump({"models": [{"name": self.model, "project": str(self.project)}]}))

        Project(self.project).dvc("push")  # data v1 into the DVC remote (the moto bucket)

    def _retrain(self, trigger: str, expect_version: str) -> dict:
        out = self.mlops(
            "retrain", "run", "--model", self.model, "--config", str(self.retrain_config), "--trigger", trigger,
            log_name=f"retrain-{trigger}",
        )  # fmt: skip
        outcome = json.loads(out.strip().splitlines()[-1])
        if outcome["status"] != "promoted" or outcome["version"] != expect_version:
            raise DemoFailed(f"expected version {expect_version} promoted, got {outcome}")
        return self._version_facts(expect_version)

    def _version_facts(self, version: str) -> dict:
        tags = Registry(settings=self.settings).version_tags(ModelRef(self.model, version=version))
        return {
            "version": version,
            "data_md5": tags.get(Tags.data_md5(RAW)),
            "gate": tags.get(Tags.GATE_DECISION),
            "gate_numbers": json.loads(tags.get(Tags.GATE_NUMBERS, "{}")),
            "trigger": tags.get(Tags.RETRAIN_TRIGGER),
        }

    def _serve(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {
            **os.environ,
            "MLOPS_SERVE_API_KEYS": self.api_key,
            "MLOPS_SERVE_CAPTURE_SAMPLE_RATE": "1.0",
            "MLOPS_SERVE_CAPTURE_FLUSH_SECONDS": "1",
            "MLOPS_SERVE_RELOAD_INTERVAL_SECONDS": "2",
            "MLOPS_LOG_GROUP": f"/mlops/demo/{self.model}",
        }
        log = (self.workdir / "logs" / "serve.log").open("w")
        champion = ModelRef(self.model, alias=self.settings.champion_alias)
        self._server = subprocess.Popen(
            [str(Path(sys.executable).parent / "mlops"), "serve", "--model-uri", champion.uri,
             "--port", str(port), "--workers", "1"],
            env=env, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        self.facts["serve_url"] = self.url
        deadline = time.monotonic() + 120
        import httpx

        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise DemoFailed(f"mlops serve exited with {self._server.returncode} (log {log.name})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health/ready", timeout=2).status_code == 200:
                    self.client = TrafficClient(self.url, self.api_key)
                    return
            time.sleep(0.5)
        raise DemoFailed(f"mlops serve was not ready within 120s (log {log.name})")

    def _stop_server(self) -> None:
        if self._server and self._server.poll() is None:
            self._server.terminate()
            try:
                self._server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._server.kill()

    def _traffic(self) -> None:
        normal = make_dataset(self.requests_per_phase, seed=self.seed)[self.features]
        self.shifted_frame = make_dataset(1200, seed=self.seed + 1, shift=True)
        self.shifted = self.shifted_frame[self.features].head(self.requests_per_phase)
        for name, frame in (("realistic", normal), ("shifted", self.shifted)):
            with click.progressbar(length=len(frame), label=f"      {name} requests") as bar:
                stats = self.client.send(frame, on_progress=lambda done: bar.update(1))
            self.stats.merge(stats)
            if name == "realistic":
                time.sleep(2.5)  # let the capture flush so the baseline window holds only realistic rows
                self.facts["drift_before"] = self._check_drift("before", event=False)
        time.sleep(2.5)

    def _check_drift(self, label: str, event: bool) -> dict:
        reports = self.workdir / "reports"
        reports.mkdir(exist_ok=True)
        json_path, html_path = reports / f"drift-{label}.json", reports / f"drift-{label}.html"
        args = ["drift", "run", "--model", self.model, "--rows", str(self.requests_per_phase),
                "--importance", str(self.project / "monitoring" / "importance.json"),  # the project's own weights
                "--json", str(json_path), "--html", str(html_path)]  # fmt: skip
        self.mlops(*args, *([] if event else ["--no-event"]), log_name=f"drift-{label}")
        report = json.loads(json_path.read_text())
        return {"drift_share": report["drift_share"], "dataset_drift": report["dataset_drift"],
                "json": str(json_path), "html": str(html_path)}  # fmt: skip

    def _drift(self) -> None:
        if self.facts["drift_before"]["dataset_drift"]:
            raise DemoFailed(f"realistic traffic was flagged as drift: {self.facts['drift_before']}")
        alarm = self._drift_alarm()
        after = self._check_drift("after", event=True)
        if not after["dataset_drift"]:
            raise DemoFailed(f"the shifted traffic was not detected: {after}")
        self.facts["drift_after"] = after
        self.facts["alarm"] = alarm.evaluate()
        if self.facts["alarm"]["state"] != "ALARM":
            raise DemoFailed(f"the drift alarm did not fire: {self.facts['alarm']}")
        self.facts["event"] = self._pending_event()

    def _drift_alarm(self):
        alarm = DriftAlarm(self.settings, self.model)
        alarm.create()
        return alarm

    def _pending_event(self) -> str:
        prefix = drift_events_prefix(self.model)
        listing = aws_client("s3", self.settings).list_objects_v2(Bucket=self.settings.data_bucket, Prefix=prefix)
        keys = [o["Key"] for o in listing.get("Contents", [])]
        if len(keys) != 1:
            raise DemoFailed(f"expected one drift event under s3://{self.settings.data_bucket}/{prefix}, got {keys}")
        return f"s3://{self.settings.data_bucket}/{keys[0]}"

    def _retrain_from_event(self) -> dict:
        # the labelled rows of the shifted period arrive: they become data version v2
        add_data_version(Project(self.project), self.shifted_frame, "data v2: the shifted period, labelled")
        env = {"MLOPS_RETRAIN_POLL_SECONDS": "1", "MLOPS_RETRAIN_METRICS_PORT": "0"}
        self.mlops("retrain", "serve", "--config", str(self.retrain_config), "--max-ticks", "1",
                   log_name="retrain-drift", env=env)  # fmt: skip
        facts = self._version_facts("2")
        champion = Registry(settings=self.settings).alias_version(self.model, self.settings.champion_alias)
        if champion != "2" or facts["trigger"] != "drift":
            raise DemoFailed(f"version 2 was not promoted by the drift event (champion {champion}, {facts})")
        return facts

    def _await_reload(self, background: BackgroundTraffic) -> None:
        deadline = time.monotonic() + 60
        while not background.stats.versions.get("2"):
            if time.monotonic() > deadline:
                raise DemoFailed(f"the server still answers with {background.stats.versions} 60s after promotion")
            time.sleep(0.2)
        time.sleep(2)  # a little traffic on the new version too
        self.facts["reload_requests"] = dict(background.stats.versions)

    def _prometheus_query(self) -> dict:
        try:
            return scrape_and_query(self.url, self.api_key, self.workdir / "prometheus")
        except PrometheusError as exc:
            raise DemoFailed(str(exc)) from None
