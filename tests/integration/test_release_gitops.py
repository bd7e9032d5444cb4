"""`mlops release` on the real local stack (MLflow registry, moto S3) with a bare Git remote in a temp dir: every
refusal at propose and at deploy time changes nothing; dev merges itself, staging waits on a branch; deploy
publishes the live release and moves @<env>; diff names a hand-moved alias; the github host opens a pull request on
a local stand-in of the GitHub API. The versions carry real tags but no trained model (nothing here loads one:
serving the released version is in tests/e2e/test_pipeline_lifecycle.py)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import git
import pytest
import yaml
from click.testing import CliRunner

from mlops.core.cli import cli
from tests.conftest import REPO_ROOT
from tests.support.moto_serving import make_serving, push_image

pytestmark = pytest.mark.integration
MODEL = "release-model"
COMMIT = "a" * 40
DIGEST = "sha256:" + "b" * 64
LINEAGE = {
    "mlops.git.commit": COMMIT,
    "mlops.git.dirty": "false",
    "mlops.dvc.lock_md5": "c" * 32,
    "mlops.dvc.remote_url": "s3://mlops-data/dvc/release",
    "mlops.data.data/raw.csv.md5": "d" * 32,
}
NUMBERS = {"primary_metric": "roc_auc", "challenger": 0.91, "champion": 0.88, "champion_version": "1"}


def mlops(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.output
    return result


@pytest.fixture(scope="module")
def world(local_stack, tmp_path_factory):
    """Versions: 1 and 4 releasable; 2 passed without lineage; 3 rejected. A bare remote whose main has the policy."""
    from mlflow import MlflowClient

    client = MlflowClient()
    client.create_registered_model(MODEL)
    cases = [(LINEAGE, "passed"), ({}, "passed"), (LINEAGE, "rejected"), (LINEAGE, "passed")]
    for lineage, decision in cases:
        version = client.create_model_version(MODEL, source="s3://mlops-artifacts/none").version
        tags = {**lineage, "mlops.gate.decision": decision, "mlops.gate.numbers": json.dumps(NUMBERS)}
        for key, value in tags.items():
            client.set_model_version_tag(MODEL, version, key, value)
    root = tmp_path_factory.mktemp("release")
    bare = root / "gitops.git"
    git.Repo.init(bare, bare=True, initial_branch="main")
    seed = git.Repo.clone_from(str(bare), root / "seed")
    (root / "seed" / "deploy").mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "policy.yaml", root / "seed" / "deploy" / "policy.yaml")
    seed.index.add(["deploy/policy.yaml"])
    seed.index.commit("release policy")
    seed.git.push("origin", "HEAD:refs/heads/main")
    return {"client": client, "bare": bare, "root": root, "stack": local_stack}


def heads(bare: Path) -> dict[str, str]:
    return {ref.name: ref.commit.hexsha for ref in git.Repo(bare).heads}


def checkout(world, name: str) -> Path:
    path = world["root"] / name
    shutil.rmtree(path, ignore_errors=True)
    git.Repo.clone_from(str(world["bare"]), path, branch="main")
    return path


def alias(world, env: str) -> str | None:
    try:
        return world["client"].get_model_version_by_alias(MODEL, env).version
    except Exception:
        return None


def test_propose_refuses_bad_versions_and_input_without_touching_git(world):
    before = heads(world["bare"])
    propose = ["release", "propose", "--model", MODEL, "--repo", str(world["bare"])]
    other = ["release", "propose", "--model", "no-such", "--repo", str(world["bare"])]
    for args, code, message in [
        ([*propose, "--env", "staging", "--version", "2"], 1, "lineage tag mlops.git.commit is missing"),
        ([*propose, "--env", "staging", "--version", "3"], 1, "its gate decision is rejected"),
        ([*propose, "--env", "staging", "--version", "99"], 1, f"model '{MODEL}' has no version 99"),
        ([*other, "--env", "dev", "--version", "1"], 1, "registered model 'no-such' does not exist"),
        ([*propose, "--env", "qa", "--version", "1"], 2, "'qa' is not one of 'dev', 'staging', 'prod'"),
        ([*propose, "--env", "dev", "--version", "v1"], 2, "'v1' is not a model version number"),
        ([*propose, "--env", "dev", "--version", "1", "--image-digest", "latest"], 2, "is not sha256:<64 hex>"),
    ]:
        result = mlops(*args)
        assert result.exit_code == code and message in result.output, (args, result.output)
    missing_repo = mlops(*propose[:4], "--repo", str(world["root"] / "nowhere.git"), "--env", "dev", "--version", "1")
    assert missing_repo.exit_code == 1 and "cannot clone the release repo" in missing_repo.output
    assert heads(world["bare"]) == before


def test_staging_waits_on_a_branch_with_the_lineage_and_dev_merges_itself(world):
    main_before = heads(world["bare"])["main"]
    args = ["release", "propose", "--model", MODEL, "--repo", str(world["bare"]), "--version", "1"]
    staging = mlops(*args, "--env", "staging", "--image-digest", DIGEST)
    assert staging.exit_code == 0, staging.output
    branch = f"release/{MODEL}/staging/v1"
    assert f"branch {branch} pushed" in staging.output and "for review by mlops-model-owners" in staging.output
    repo = git.Repo(world["bare"])
    assert heads(world["bare"])["main"] == main_before  # staging waits for review
    commit = repo.heads[branch].commit
    assert commit.parents[0].hexsha == main_before
    for line in [f"release: {MODEL} v1 to staging", f"data: data/raw.csv md5 {'d' * 32}", "dvc.lock md5: " + "c" * 32]:
        assert line in commit.message
    assert "gate: passed, roc_auc 0.9100 vs champion 0.8800 (v1)" in commit.message
    manifest = yaml.safe_load((commit.tree / f"deploy/{MODEL}/staging.yaml").data_stream.read())
    assert manifest["model"] == {"name": MODEL, "version": "1"} and manifest["image"]["digest"] == DIGEST
    assert manifest["lineage"]["git_commit"] == COMMIT and manifest["gate"]["challenger"] == 0.91
    again = mlops(*args, "--env", "staging")
    assert again.exit_code == 1 and f"branch {branch} already exists" in again.output

    dev = mlops(*args, "--env", "dev")
    assert dev.exit_code == 0 and "dev merges itself" in dev.output, dev.output
    assert heads(world["bare"])["main"] == repo.heads[f"release/{MODEL}/dev/v1"].commit.hexsha
    assert mlops(*args, "--env", "dev").output.startswith(f"main already releases {MODEL} v1 to dev")


def test_deploy_rechecks_the_manifest_then_publishes_it_and_moves_the_env_alias(world, tmp_path):
    work = checkout(world, "deploy-main")
    path = work / "deploy" / MODEL / "dev.yaml"
    good = path.read_text()
    deploy = ["release", "deploy", "--env", "dev", "--model", MODEL, "--root", str(work)]
    refusals = [
        (good.replace("version: '1'", "version: one"), "model.version: String should match pattern"),
        (good.replace("kind: Release", "kind: Release\nreplica: 3"), "replica: Extra inputs are not permitted"),
        (good.replace("version: '1'", "version: '2'"), "lineage tag mlops.git.commit is missing"),
        (good.replace("version: '1'", "version: '3'"), "its gate decision is rejected"),
        (good.replace("version: '1'", "version: '99'"), f"model '{MODEL}' has no version 99"),
        (good.replace("d" * 32, "e" * 32), "does not match the registry: lineage"),
        (good.replace("name: release-model", "name: other"), "describes other in dev, not release-model in dev"),
    ]
    for text, message in refusals:
        path.write_text(text)
        result = mlops(*deploy)
        assert result.exit_code == 1 and message in result.output, (message, result.output)
    unknown = mlops("release", "deploy", "--env", "dev", "--model", "nope", "--root", str(work))
    assert unknown.exit_code == 1 and f"no release manifest {work}/deploy/nope/dev.yaml" in unknown.output
    path.write_text(good)
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({"listener_arn": "arn:x", "target_groups": {"blue": "b", "green": "g"}}))
    no_image = mlops(*deploy, "--rollout", "--targets", str(targets))
    assert no_image.exit_code == 1 and "pins no image: --rollout needs image" in no_image.output
    s3 = world["stack"].boto3_client("s3")
    bucket, key = world["stack"].settings.artifact_bucket, f"releases/{MODEL}/dev.yaml"
    assert alias(world, "dev") is None and "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=key)

    result = mlops(*deploy)
    assert result.exit_code == 0, result.output
    assert f"{MODEL}@dev: v1" in result.output and f"s3://{bucket}/{key}" in result.output
    assert alias(world, "dev") == "1"
    live = s3.get_object(Bucket=bucket, Key=key)
    assert yaml.safe_load(live["Body"].read()) == yaml.safe_load(good)
    assert live["Metadata"]["git-commit"] == git.Repo(work).head.commit.hexsha
    shown = mlops("release", "show", "--env", "dev", "--model", MODEL, "--root", str(work), "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["model"]["version"] == "1"

    in_step = mlops("release", "diff", "--env", "dev", "--root", str(work))
    assert in_step.exit_code == 0 and "dev: everything matches Git" in in_step.output, in_step.output
    world["client"].set_registered_model_alias(MODEL, "dev", "4")  # someone moves the alias by hand
    drifted = mlops("release", "diff", "--env", "dev", "--root", str(work))
    assert drifted.exit_code == 1 and f"XX  registry alias {MODEL}@dev" in drifted.output
    assert f"1 differ from Git: registry alias {MODEL}@dev" in drifted.output


class GitHubStandIn(BaseHTTPRequestHandler):
    """Answers the two GitHub REST calls the github host makes, like GitHub: 401 without the token, 422 when the
    head branch is not on the remote. (A stand-in for GitHub only; the client code runs unmodified against it.)"""

    bare: Path
    calls: list = []
    refuse = False

    def do_POST(self):  # noqa: N802 - the http.server hook name
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        GitHubStandIn.calls.append((self.path, payload))
        if self.headers.get("Authorization") != "Bearer gh-token":
            return self._answer(401, {"message": "Bad credentials"})
        if self.path.endswith("/pulls"):
            if GitHubStandIn.refuse or payload["head"] not in heads(GitHubStandIn.bare):
                return self._answer(422, {"message": "Validation Failed"})
            return self._answer(201, {"number": 7, "html_url": "https://github.example/o/gitops/pull/7"})
        return self._answer(201, {"requested_teams": payload.get("team_reviewers", [])})

    def _answer(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_github_host_opens_the_pull_request_and_requests_the_policy_reviewers(world):
    GitHubStandIn.bare = world["bare"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHubStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"MLOPS_GITHUB_API_URL": f"http://127.0.0.1:{server.server_port}", "MLOPS_GITHUB_TOKEN": "gh-token"}
    args = ["release", "propose", "--model", MODEL, "--repo", str(world["bare"]), "--git-host", "github"]
    try:
        before = heads(world["bare"])
        no_token = mlops(*args, "--env", "prod", "--version", "4", env={**env, "MLOPS_GITHUB_TOKEN": ""})
        assert no_token.exit_code == 1 and "needs a token: set MLOPS_GITHUB_TOKEN" in no_token.output
        assert heads(world["bare"]) == before and not GitHubStandIn.calls

        result = mlops(*args, "--env", "prod", "--version", "4", env=env)
        assert result.exit_code == 0, result.output
        assert "pull request https://github.example/o/gitops/pull/7 opened for review by mlops-release-managers" in (
            result.output
        )
        (pull_path, pull), (review_path, review) = GitHubStandIn.calls
        assert pull_path.endswith("/gitops/pulls") and review_path.endswith("/pulls/7/requested_reviewers")
        assert pull["head"] == f"release/{MODEL}/prod/v4" and pull["base"] == "main"
        assert pull["title"] == f"release: {MODEL} v4 to prod" and "gate: passed" in pull["body"]
        assert review == {"team_reviewers": ["mlops-release-managers"]}

        GitHubStandIn.refuse = True
        refused = mlops(*args, "--env", "prod", "--version", "1", env=env)
        assert refused.exit_code == 1, refused.output
        assert f"branch release/{MODEL}/prod/v1 was pushed, but the review request failed" in refused.output
        assert "GitHub refused POST" in refused.output and "HTTP 422 Validation Failed" in refused.output
    finally:
        server.shutdown()


def test_rollout_runs_the_canary_and_only_a_promoted_one_moves_the_alias(world, tmp_path):
    """`release deploy --rollout` with the manifest's image digest on moto's ALB/ASG: an alarm rolls the canary back
    and leaves the alias and live release alone; a clean canary moves traffic, then publishes and moves @staging."""
    stack = world["stack"]
    ec2, elbv2, autoscaling = (stack.boto3_client(s) for s in ("ec2", "elbv2", "autoscaling"))
    cloudwatch = stack.boto3_client("cloudwatch")
    serving = make_serving(stack, "release", 43)
    template, alarm = serving.template, serving.alarm
    digest = push_image(stack, "release-serve", "r1")
    targets = tmp_path / "staging.json"
    targets.write_text(json.dumps(serving.targets()))
    propose = ["release", "propose", "--model", MODEL, "--repo", str(world["bare"]), "--env", "staging"]
    proposed = mlops(*propose, "--version", "4", "--image-digest", digest, "--image-repository", "release-serve")
    assert proposed.exit_code == 0, proposed.output
    work = checkout(world, "rollout")
    git.Repo(work).git.checkout(f"release/{MODEL}/staging/v4")  # the reviewed branch, as main would have it
    deploy = ["release", "deploy", "--env", "staging", "--model", MODEL, "--root", str(work), "--rollout"]
    deploy += ["--targets", str(targets), "--no-instance-refresh", "--record-dir", str(tmp_path / "records")]
    fast = {"MLOPS_CANARY_WATCH_SECONDS": "0.2", "MLOPS_CANARY_POLL_SECONDS": "0.1"}
    s3, bucket = stack.boto3_client("s3"), stack.settings.artifact_bucket

    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx burst")
    try:
        rolled_back = mlops(*deploy, env=fast)
    finally:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="recovered")
    assert rolled_back.exit_code == 1 and f"alarm {alarm} fired: rolled back" in rolled_back.output
    assert alias(world, "staging") is None
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=f"releases/{MODEL}/staging.yaml")

    promoted = mlops(*deploy, env=fast)
    assert promoted.exit_code == 0, promoted.output
    assert f"staging: green is live with {MODEL} v4" in promoted.output and f"{MODEL}@staging: v4" in promoted.output
    assert alias(world, "staging") == "4"
    assert serving.weights(elbv2) == {"blue": 0, "green": 100}
    green = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["release-green"])["AutoScalingGroups"][0]
    data = ec2.describe_launch_template_versions(
        LaunchTemplateId=template, Versions=[green["LaunchTemplate"]["Version"]]
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    tags = {t["Key"]: t["Value"] for t in data["TagSpecifications"][0]["Tags"]}
    assert tags["mlops:model-version"] == f"{MODEL}/4" and tags["mlops:image"].endswith("/release-serve:r1")
    assert "MLOPS_SERVE_MAX_BATCH_ROWS=" in tags["mlops:serving-env"]  # the manifest's serving settings
    live = yaml.safe_load(s3.get_object(Bucket=bucket, Key=f"releases/{MODEL}/staging.yaml")["Body"].read())
    assert live["image"] == {"repository": "release-serve", "digest": digest}
    diff = ["release", "diff", "--env", "staging", "--model", MODEL, "--root", str(work), "--targets", str(targets)]
    in_step = mlops(*diff)
    assert in_step.exit_code == 0 and "ok  ASG release-green (green, live) launch template" in in_step.output
    autoscaling.update_auto_scaling_group(  # someone points the live ASG back at the first template by hand
        AutoScalingGroupName="release-green", LaunchTemplate={"LaunchTemplateId": template, "Version": "1"}
    )
    drifted = mlops(*diff)
    assert drifted.exit_code == 1, drifted.output
    assert re.search(r"XX  ASG release-green \(green, live\) launch template +v4 +none", drifted.output)
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "records").glob("*.json"))]
    assert any(r["outcome"] == "promoted" and r["image_digest"] == digest for r in records), records


def test_a_hand_edited_manifest_on_main_that_fails_the_schema_is_refused_at_propose_and_deploy_time(world):
    work = checkout(world, "hand-edit")
    path = work / "deploy" / MODEL / "prod.yaml"
    path.write_text((work / "deploy" / MODEL / "dev.yaml").read_text().replace("env: dev", "env: prod") + "extra: 1\n")
    repo = git.Repo(work)
    repo.index.add([str(path.relative_to(work))])
    repo.index.commit("hand edit")
    repo.git.push("origin", "main")
    before = heads(world["bare"])
    args = ["release", "propose", "--model", MODEL, "--repo", str(world["bare"]), "--env", "prod", "--version", "1"]
    refused = mlops(*args)
    assert refused.exit_code == 1 and "fails the Release schema: extra: Extra inputs" in refused.output
    assert f"deploy/{MODEL}/prod.yaml on main" in refused.output and heads(world["bare"]) == before
    deploy = mlops("release", "deploy", "--env", "prod", "--model", MODEL, "--root", str(work))
    assert deploy.exit_code == 1 and "fails the Release schema: extra: Extra inputs" in deploy.output
    assert alias(world, "prod") is None
    unknown_env = mlops("release", "deploy", "--env", "qa", "--model", MODEL, "--root", str(work))
    assert unknown_env.exit_code == 2 and "'qa' is not one of 'dev', 'staging', 'prod'" in unknown_env.output
