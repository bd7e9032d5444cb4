"""The whole data-versioning and continuous-training loop on the real local stack (moto S3 as the DVC remote,
a real MLflow server), with a real Git + DVC model project in a temp dir. The tests run in order and share the
project: v1 -> champion; v2 with a shift + a drift event -> retrained, gated, promoted; a worse challenger is
rejected; a killed retrain changes nothing; lineage and reproduce answer from the tags. The retraining config names
a release target, so each pass also proposes a staging release branch on a bare Git remote; merging it and
`mlops release deploy` moves what a real `mlops serve` on `@staging` serves, and `git revert` + deploy moves it back."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import git
import httpx
import pytest
import yaml
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.locking import FileLock, lock_path
from mlops.training.example import RAW, add_data_version, init_project, make_dataset
from tests.conftest import REPO_ROOT, run_mlops
from tests.support.serving import auth, start_server

pytestmark = pytest.mark.e2e
MODEL = "lifecycle-model"
REMOTE = "s3://mlops-data/dvc/lifecycle"


class State:
    project = None
    config: Path
    md5: dict[str, str] = {}


@pytest.fixture(scope="module")
def lab(local_stack, tmp_path_factory):
    root = tmp_path_factory.mktemp("lifecycle")
    State.project = init_project(root / "project", REMOTE, MODEL)
    State.md5["v1"] = State.project.datasets()[RAW]
    State.gitops = root / "gitops.git"  # the release repo: main holds deploy/policy.yaml (staging waits for review)
    git.Repo.init(State.gitops, bare=True, initial_branch="main")
    seed = git.Repo.clone_from(str(State.gitops), root / "seed")
    (root / "seed" / "deploy").mkdir()
    (root / "seed" / "deploy" / "policy.yaml").write_bytes((REPO_ROOT / "deploy" / "policy.yaml").read_bytes())
    seed.index.add(["deploy/policy.yaml"])
    seed.index.commit("release policy")
    seed.git.push("origin", "HEAD:refs/heads/main")
    State.config = root / "retrain.yaml"
    model = {
        "name": MODEL,
        "project": str(State.project.root),
        "release": {"env": "staging", "repo": str(State.gitops)},
    }
    State.config.write_text(yaml.safe_dump({"models": [model]}))
    State.stack = local_stack
    return State


def mlflow_client():
    from mlflow import MlflowClient

    return MlflowClient()


def champion() -> str | None:
    try:
        return mlflow_client().get_model_version_by_alias(MODEL, "champion").version
    except Exception:
        return None


def versions() -> int:
    return len(mlflow_client().search_model_versions(f"name='{MODEL}'"))


def remote_objects(lab) -> dict[str, str]:
    s3 = lab.stack.boto3_client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="mlops-data", Prefix="dvc/lifecycle/")
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def release_heads(lab) -> dict[str, str]:
    return {ref.name: ref.commit.hexsha for ref in git.Repo(lab.gitops).heads}


def merge_release(lab, branch: str) -> None:
    """What approving the pull request does: main fast-forwards to the release branch."""
    bare = git.Repo(lab.gitops)
    assert bare.is_ancestor(bare.heads["main"].commit, bare.heads[branch].commit), f"{branch} is not off main"
    bare.heads["main"].commit = bare.heads[branch].commit


def retrain_run(lab, *extra: str, env: dict | None = None):
    result = run_mlops("retrain", "run", "--model", MODEL, "--config", str(lab.config), *extra, env=env)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def test_v1_is_trained_registered_and_promoted(lab):
    result = retrain_run(lab)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "promoted" and outcome["version"] == "1"
    assert champion() == "1"
    tags = mlflow_client().get_model_version(MODEL, "1").tags
    assert tags[f"mlops.data.{RAW}.md5"] == lab.md5["v1"]
    assert tags["mlops.git.commit"] == git.Repo(lab.project.root).head.commit.hexsha
    assert tags["mlops.dvc.remote_url"] == REMOTE and len(tags["mlops.dvc.lock_md5"]) == 32
    assert tags["mlops.gate.decision"] == "passed"
    run = mlflow_client().get_run(mlflow_client().get_model_version(MODEL, "1").run_id)
    assert run.data.params["train.seed"] == "42" and run.data.metrics["roc_auc"] > 0.9
    artifacts = {a.path for a in mlflow_client().list_artifacts(run.info.run_id, "drift")}
    assert "drift/reference_profile.json" in artifacts
    # the pass proposed a staging release; staging waits for review, so main is untouched until it is merged
    assert outcome["release"] == f"release/{MODEL}/staging/v1"
    assert set(release_heads(lab)) == {"main", outcome["release"]}
    merge_release(lab, outcome["release"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _drift_event(lab, event_id: str) -> None:
    now = dt.datetime.now(dt.UTC)
    body = {
        "event_id": event_id,
        "model_name": MODEL,
        "model_version": "1",
        "detected_at": now.isoformat(),
        "dataset_drift": True,
        "drift_share": 0.67,
        "drifted_columns": ["x1"],
        "report_uri": "s3://mlops-capture/reports/x.json",
    }
    key = f"events/drift/{MODEL}/{now.strftime('%Y%m%dT%H%M%S%fZ')}-{event_id}.json"
    lab.stack.boto3_client("s3").put_object(Bucket="mlops-data", Key=key, Body=json.dumps(body).encode())


def test_drift_event_retrains_on_v2_and_promotes_it(lab, tmp_path):
    lab.md5["v2"] = add_data_version(lab.project, make_dataset(seed=1, shift=True), "data v2: x1 shifted")
    _drift_event(lab, "evt-a")
    _drift_event(lab, "evt-b")  # a duplicate trigger: both collapse into one retrain
    port = _free_port()
    env = {**os.environ, "MLOPS_RETRAIN_POLL_SECONDS": "1", "MLOPS_RETRAIN_METRICS_PORT": str(port)}
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlops"), "retrain", "serve", "--config", str(lab.config)],
        env=env, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while champion() != "2" and time.monotonic() < deadline and serve.poll() is None:
            time.sleep(1)
        assert champion() == "2", (tmp_path / "serve.log").read_text()[-3000:]
        scrape = ""
        while 'outcome="promoted",trigger="drift"' not in scrape and time.monotonic() < deadline:
            scrape = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            time.sleep(0.5)
        assert f'mlops_retrain_runs_total{{model="{MODEL}",outcome="promoted",trigger="drift"}} 1.0' in scrape
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
        log.close()
    assert versions() == 2  # one run for two events
    client = mlflow_client()
    tags = client.get_model_version(MODEL, "2").tags
    assert tags[f"mlops.data.{RAW}.md5"] == lab.md5["v2"] != lab.md5["v1"]
    assert tags["mlops.retrain.trigger"] == "drift" and set(tags["mlops.retrain.events"].split(",")) == {
        "evt-a",
        "evt-b",
    }
    numbers = json.loads(tags["mlops.gate.numbers"])
    assert numbers["champion_version"] == "1" and numbers["challenger"] > numbers["champion"] + 0.01
    # the reviewable change: a branch off main whose commit carries the data version, metrics and gate numbers
    proposed = git.Repo(lab.gitops).heads[f"release/{MODEL}/staging/v2"].commit
    assert proposed.parents[0] == git.Repo(lab.gitops).heads["main"].commit
    message = proposed.message
    assert f"release: {MODEL} v2 to staging" in message and "(was v1)" in message
    assert f"data: {RAW} md5 {lab.md5['v2']}" in message and f"dvc.lock md5: {tags['mlops.dvc.lock_md5']}" in message
    assert f"gate: passed, roc_auc {numbers['challenger']:.4f} vs champion {numbers['champion']:.4f} (v1)" in message
    assert "metric: roc_auc " in message and "metric: accuracy " in message
    manifest = yaml.safe_load((proposed.tree / f"deploy/{MODEL}/staging.yaml").data_stream.read())
    assert manifest["model"]["version"] == "2" and manifest["lineage"]["data"] == {RAW: lab.md5["v2"]}
    assert client.get_model_version_by_alias(MODEL, "previous").version == "1"
    s3 = lab.stack.boto3_client("s3")
    for event_id in ("evt-a", "evt-b"):
        marker = json.loads(
            s3.get_object(Bucket="mlops-data", Key=f"events/drift-consumed/{MODEL}/{event_id}.json")["Body"].read()
        )
        assert marker["status"] == "promoted" and marker["version"] == "2"


def test_lineage_names_the_data_hashes(lab):
    result = run_mlops("lineage", f"models:/{MODEL}@champion", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["version"] == "2" and info["data"] == {RAW: lab.md5["v2"]}
    assert info["dvc_remote"] == REMOTE and info["gate"]["decision"] == "passed"
    assert info["params"]["train.n_estimators"] == "30" and info["metrics"]["roc_auc"] > 0.9
    text = run_mlops("lineage", f"models:/{MODEL}/1")
    assert text.returncode == 0 and f"{RAW} md5 {lab.md5['v1']}" in text.stdout


def test_worse_challenger_is_rejected_and_champion_stays(lab):
    params = lab.project.params_path
    worse = (
        params.read_text().replace("features: [x1, x2, x3]", "features: [x2]").replace("max_depth: 5", "max_depth: 1")
    )
    params.write_text(worse)
    repo = git.Repo(lab.project.root)
    repo.index.add(["params.yaml"])
    repo.index.commit("a worse model: x2 only, depth 1")
    result = retrain_run(lab)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "rejected" and outcome["version"] == "3"
    assert champion() == "2" and f"release/{MODEL}/staging/v3" not in release_heads(lab)
    tags = mlflow_client().get_model_version(MODEL, "3").tags
    assert tags["mlops.gate.decision"] == "rejected"
    reasons = json.loads(tags["mlops.gate.reasons"])
    assert any("is less than the required +0.0100" in r for r in reasons)
    assert any("below the floor 0.7" in r for r in reasons)


def test_killed_retrain_changes_nothing_and_releases_the_lock(lab, tmp_path, local_stack):
    before = (champion(), versions(), remote_objects(lab))
    work = Path(os.environ["MLOPS_STATE_DIR"]).resolve() / "retrain" / "work" / MODEL
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlops"), "retrain", "run", "--model", MODEL, "--config", str(lab.config)],
        stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not list(work.glob("ws-*/data/prepared/train.parquet")) and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(0.2)
        assert list(work.glob("ws-*/data/prepared/train.parquet")), "the retrain never reached the train stage"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: mlops, dvc and the stage it runs
        proc.wait(timeout=30)
        log.close()
    assert (champion(), versions(), remote_objects(lab)) == before
    assert not FileLock(lock_path(Path(os.environ["MLOPS_STATE_DIR"]), "retrain", MODEL)).is_held()


def test_reproduce_matches_the_registered_metrics(lab):
    result = run_mlops("reproduce", f"models:/{MODEL}/2")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "metrics match" in result.stdout and "roc_auc" in result.stdout
    assert versions() == 3  # reproducing registers nothing


def test_rollback_and_promote_move_aliases_with_an_audit_record(lab):
    env = {"MLOPS_ACTOR": "oncall@example.com"}
    result = run_mlops("rollback", MODEL, "--reason", "v2 misbehaves", env=env)
    assert result.returncode == 0, result.stderr
    client = mlflow_client()
    assert champion() == "1" and client.get_model_version_by_alias(MODEL, "previous").version == "2"
    audit_uri = result.stdout.strip().rsplit("audit ", 1)[1]
    bucket, key = audit_uri.removeprefix("s3://").split("/", 1)
    record = json.loads(lab.stack.boto3_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert record | {"id": None, "at": None, "audit_uri": None, "audit_key": None} == {
        "id": None, "at": None, "audit_uri": None, "audit_key": None, "model": MODEL, "alias": "champion",
        "action": "rollback", "actor": "oncall@example.com", "reason": "v2 misbehaves", "from_version": "2",
        "to_version": "1", "old_previous": "1", "status": "done",
    }  # fmt: skip
    result = run_mlops("promote", MODEL, "2", "--reason", "fixed upstream", env=env)
    assert result.returncode == 0, result.stderr
    assert champion() == "2" and client.get_model_version_by_alias(MODEL, "previous").version == "1"
    # the refusals run in-process (same click commands, no interpreter start-up each): nothing may move
    for args, message in [
        (("promote", MODEL, "99", "--reason", "x"), f"model '{MODEL}' has no version 99"),
        (("promote", MODEL, "2", "--reason", "x"), "is already the champion"),
        (("promote", "no-such-model", "1", "--reason", "x"), "registered model 'no-such-model' does not exist"),
        (("lineage", "models:/no-such-model@champion"), "registered model 'no-such-model' does not exist"),
    ]:
        bad = CliRunner().invoke(cli, args)
        assert bad.exit_code == 1 and message in bad.output and bad.exc_info[0] is SystemExit, bad.output
    # version 3 was rejected by the gate: refused, naming why, unless forced
    refused = CliRunner().invoke(cli, ["promote", MODEL, "3", "--reason", "x"])
    assert refused.exit_code == 1 and "not promoting version 3" in refused.output, refused.output
    assert "the gate rejected it" in refused.output and "--force" in refused.output
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DATA_BUCKET", "no-such-bucket")
        no_audit = CliRunner().invoke(cli, ["promote", MODEL, "3", "--reason", "x", "--force"])
    # the audit bucket is read first (an interrupted promotion to repair), so nothing is moved without it
    assert no_audit.exit_code == 1 and "cannot check for an interrupted promotion" in no_audit.output, no_audit.output
    assert "NoSuchBucket" in no_audit.output
    assert champion() == "2" and client.get_model_version_by_alias(MODEL, "previous").version == "1"


def _served(server) -> str | None:
    return httpx.get(server.url + "/health/ready", headers=auth(), timeout=5).headers.get("x-model-version")


def _deploy_staging(work: Path) -> None:
    result = run_mlops("release", "deploy", "--env", "staging", "--model", MODEL, "--root", str(work))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr[-3000:]


def _wait_served(server, version: str) -> None:
    deadline = time.monotonic() + 90
    while _served(server) != version and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _served(server) == version, server.log()[-3000:]


def test_release_merge_deploy_moves_the_served_version_and_revert_moves_it_back(lab, tmp_path):
    """main says v1 (merged after the first retrain): deploy, serve @staging; merge v2, deploy: the server follows;
    git revert + deploy: back to v1; a hand-moved alias is reported by `release diff`."""
    work = tmp_path / "checkout"
    repo = git.Repo.clone_from(str(lab.gitops), work, branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "reviewer").set_value("user", "email", "reviewer@example.com")
    _deploy_staging(work)
    client = mlflow_client()
    assert client.get_model_version_by_alias(MODEL, "staging").version == "1"
    # `release diff --server-url` reads the served version without a key: this server shows it to everyone
    env = {"MLOPS_SERVE_RELOAD_INTERVAL_SECONDS": "0.3", "MLOPS_SERVE_PUBLIC_VERSION": "true"}
    server = start_server(f"models:/{MODEL}@staging", tmp_path / "serve.log", env=env)
    try:
        server.wait_ready()
        assert _served(server) == "1"
        merge_release(lab, f"release/{MODEL}/staging/v2")  # the reviewed pull request is merged
        repo.remotes.origin.pull("main")
        _deploy_staging(work)
        _wait_served(server, "2")
        repo.git.revert("--no-edit", "HEAD")  # rolling back is a revert of the release commit, then the deploy
        repo.remotes.origin.push("main")
        _deploy_staging(work)
        _wait_served(server, "1")
        diff = [
            "release",
            "diff",
            "--env",
            "staging",
            "--root",
            str(work),
            "--model",
            MODEL,
            "--server-url",
            server.url,
        ]
        in_step = CliRunner().invoke(cli, diff)
        assert in_step.exit_code == 0 and "staging: everything matches Git" in in_step.output, in_step.output
        client.set_registered_model_alias(MODEL, "staging", "2")  # a hand move behind Git's back
        drifted = CliRunner().invoke(cli, diff)
        assert drifted.exit_code == 1 and f"XX  registry alias {MODEL}@staging" in drifted.output, drifted.output
    finally:
        server.stop()
    live = lab.stack.boto3_client("s3").get_object(Bucket="mlops-artifacts", Key=f"releases/{MODEL}/staging.yaml")
    assert yaml.safe_load(live["Body"].read())["model"]["version"] == "1"
    assert live["Metadata"]["git-commit"] == repo.head.commit.hexsha
