"""A deploy of what already runs is a no-op that says so (mlops.delivery.unchanged): `mlops release deploy` when the
env's live release is the manifest, `mlops deploy canary` when the live color's launch template names the same image
and model version; `--force` deploys anyway. On moto: tests/integration/test_deploy_canary.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.settings import get_settings
from mlops.delivery import deploy, release
from mlops.delivery.preflight import Artifact
from mlops.delivery.unchanged import live_color_runs, nothing_to_deploy, release_unchanged
from mlops.release.live import LiveRelease
from mlops.release.manifest import Image, Release
from tests.support.deploy_fakes import DIGEST, IMAGE_URI, Clock, FakeAws, patch_deploy
from tests.support.registry import AliasRegistry

pytestmark = pytest.mark.unit
MANIFEST = Release.model_validate(
    {
        "env": "dev",
        "model": {"name": "churn", "version": "6"},  # AliasRegistry: churn@dev is 6
        "lineage": {
            "git_commit": "a" * 40,
            "dvc_lock_md5": "b" * 32,
            "dvc_remote_url": "s3://mlops-data/dvc/churn",
            "data": {"data/raw.csv": "c" * 32},
        },
        "image": {"repository": "mlops-serve", "digest": DIGEST},
        "gate": {"decision": "passed", "primary_metric": "roc_auc", "challenger": 0.93},
    }
)
ARTIFACT = Artifact(IMAGE_URI, DIGEST, "churn", "7")
RUNS_IT = {"mlops:model-version": "churn/7", "mlops:image": IMAGE_URI, "mlops:image-digest": DIGEST}


def test_a_release_is_unchanged_only_when_the_live_release_is_the_manifest_and_ran():
    other_image = MANIFEST.model_copy(update={"image": Image(repository="mlops-serve", digest="sha256:" + "e" * 64)})
    other_serving = MANIFEST.model_copy(update={"serving": MANIFEST.serving.model_copy(update={"replicas": 5})})
    assert release_unchanged(LiveRelease(MANIFEST, rolled_out=True), MANIFEST, "6", rollout=True)
    assert release_unchanged(LiveRelease(MANIFEST, rolled_out=False), MANIFEST, "6", rollout=False)
    # published without --rollout: the alias moved, the image may never have reached the instances
    assert not release_unchanged(LiveRelease(MANIFEST, rolled_out=False), MANIFEST, "6", rollout=True)
    assert not release_unchanged(None, MANIFEST, "6", rollout=True)  # never deployed
    assert not release_unchanged(LiveRelease(MANIFEST, True), MANIFEST, "5", rollout=True)  # alias moved by hand
    assert not release_unchanged(LiveRelease(other_image, True), MANIFEST, "6", rollout=True)
    assert not release_unchanged(LiveRelease(other_serving, True), MANIFEST, "6", rollout=True)


def test_the_live_color_runs_the_artifact_when_its_template_names_it_and_it_has_all_the_traffic():
    live = {"blue": 100, "green": 0}
    assert live_color_runs(RUNS_IT, live, "blue", ARTIFACT)
    assert not live_color_runs(RUNS_IT, {"blue": 50, "green": 50}, "blue", ARTIFACT)  # a canary stopped half-way
    assert not live_color_runs({**RUNS_IT, "mlops:model-version": "churn/6"}, live, "blue", ARTIFACT)
    # the same tag pushed again is another image: the digest decides
    assert not live_color_runs({**RUNS_IT, "mlops:image-digest": "sha256:" + "e" * 64}, live, "blue", ARTIFACT)
    older = {k: v for k, v in RUNS_IT.items() if k != "mlops:image-digest"}  # templates from before the digest tag
    assert live_color_runs(older, live, "blue", ARTIFACT)
    assert not live_color_runs({**older, "mlops:image": IMAGE_URI[:-1] + "4"}, live, "blue", ARTIFACT)
    assert not live_color_runs({}, live, "blue", ARTIFACT)
    # a release also sets the serving settings; a canary deploy sets none and keeps the template's
    tuned = Artifact(IMAGE_URI, DIGEST, "churn", "7", {"MLOPS_SERVE_MAX_WAIT_MS": "2.0"})
    assert live_color_runs({**RUNS_IT, "mlops:serving-env": "MLOPS_SERVE_MAX_WAIT_MS=2.0"}, live, "blue", tuned)
    assert not live_color_runs({**RUNS_IT, "mlops:serving-env": "MLOPS_SERVE_MAX_WAIT_MS=5.0"}, live, "blue", tuned)
    assert live_color_runs({**RUNS_IT, "mlops:serving-env": "MLOPS_SERVE_MAX_WAIT_MS=5.0"}, live, "blue", ARTIFACT)


def _canary(tmp_path, lines, force=False):
    settings = get_settings(canary_watch_seconds=0, state_dir=tmp_path / "state")
    return deploy.run_rollout(
        settings, "dev", "churn", "7", deploy.ImageRef("mlops-serve", tag="abc123"), targets_file=None,
        instance_refresh=True, record_dir=tmp_path, force=force, say=lines.append,
    )  # fmt: skip


def test_a_canary_of_what_the_live_color_runs_writes_nothing_unless_forced(monkeypatch, tmp_path):
    aws, lines = FakeAws(live_tags=RUNS_IT), list[str]()
    patch_deploy(monkeypatch, aws, Clock())
    assert _canary(tmp_path, lines) is None
    assert lines == [f"dev already serves churn v7 (image {DIGEST}): nothing to deploy"]
    assert aws.writes == [] and not list(tmp_path.glob("*.json"))

    aws.refresh_statuses = ["Successful"]
    assert _canary(tmp_path, lines, force=True) is not None
    assert aws.writes[:3] == ["create_launch_template_version", "update_auto_scaling_group", "start_instance_refresh"]
    assert aws.weights == {"blue": 0, "green": 100} and len(aws.records) == 1


@pytest.fixture
def applied(monkeypatch):
    """`mlops release deploy` with the manifest on disk being MANIFEST; what it rolled out and applied."""
    done: list[str] = []
    monkeypatch.setattr(release, "load_verified", lambda settings, root, model, env: MANIFEST)
    monkeypatch.setattr(release, "Registry", AliasRegistry)
    # the env's targets name no bucket of their own here: the settings' bucket stays
    monkeypatch.setattr(release, "load_targets", lambda env, targets_file: SimpleNamespace(settings_for=lambda s: s))

    def run_rollout(*args, **kwargs):
        done.append("rollout")
        return None  # as when the live color already ran it: no record

    monkeypatch.setattr(release, "run_rollout", run_rollout)

    def apply(settings, found, commit, rolled_out):
        done.append(f"apply rolled_out={rolled_out}")
        return "s3://mlops-artifacts/releases/churn/dev.yaml", "6"

    monkeypatch.setattr(release, "apply", apply)
    return done


def _release_deploy(*extra):
    return CliRunner().invoke(cli, ["release", "deploy", "--env", "dev", "--model", "churn", *extra])


def test_a_release_deploy_of_the_live_release_is_a_no_op_unless_forced(monkeypatch, applied):
    monkeypatch.setattr(release, "read_live_release", lambda settings, model, env: LiveRelease(MANIFEST, True))
    result = _release_deploy("--rollout")
    assert result.exit_code == 0, result.output
    assert result.output == nothing_to_deploy("dev", "churn", "6", DIGEST) + "\n"
    assert result.output == f"dev already serves churn v6 (image {DIGEST}): nothing to deploy\n"
    assert applied == []  # no rollout, no live release written, no alias moved

    forced = _release_deploy("--rollout", "--force")
    assert forced.exit_code == 0, forced.output
    assert applied == ["rollout", "apply rolled_out=True"]


def test_a_release_only_published_before_is_rolled_out(monkeypatch, applied):
    monkeypatch.setattr(release, "read_live_release", lambda settings, model, env: LiveRelease(MANIFEST, False))
    assert _release_deploy().output.endswith("nothing to deploy\n") and applied == []  # no rollout asked: no change
    result = _release_deploy("--rollout")
    assert result.exit_code == 0, result.output
    assert applied == ["rollout", "apply rolled_out=True"]
