"""The release manifest and policy schemas: the committed JSON Schema is the one the code generates, the committed
policy loads, and a bad manifest or policy is refused naming the field."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from mlops.core.contracts import ENVIRONMENTS, Environment
from mlops.core.errors import MlopsError
from mlops.core.paths import REPO_ROOT
from mlops.release.gitops import branch_name, commit_message
from mlops.release.manifest import (
    DEFAULT_POLICY,
    Release,
    json_schema,
    load_policy,
    load_release,
    manifest_path,
    parse_release,
)

pytestmark = pytest.mark.unit
GOOD = {
    "apiVersion": "mlops.r5/v1",
    "kind": "Release",
    "env": "staging",
    "model": {"name": "churn", "version": "7"},
    "lineage": {
        "git_commit": "a" * 40,
        "dvc_lock_md5": "b" * 32,
        "dvc_remote_url": "s3://mlops-data/dvc/churn",
        "data": {"data/raw.csv": "c" * 32},
    },
    "image": {"repository": "mlops-serve", "digest": "sha256:" + "d" * 64},
    "serving": {"replicas": 3, "max_batch_rows": 512, "max_wait_ms": 2.0, "capture_sample_rate": 0.1},
    "gate": {"decision": "passed", "primary_metric": "roc_auc", "challenger": 0.93, "champion": 0.9},
}


def test_committed_json_schema_is_the_generated_one_and_agrees_with_pydantic():
    committed = json.loads((REPO_ROOT / "deploy" / "release.schema.json").read_text())
    assert committed == json_schema(), "regenerate: python -m mlops.release.manifest > deploy/release.schema.json"
    jsonschema.Draft202012Validator.check_schema(committed)
    jsonschema.validate(GOOD, committed)
    Release.model_validate(GOOD)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**GOOD, "gate": {**GOOD["gate"], "decision": "rejected"}}, committed)


def test_one_list_of_envs():
    assert set(Environment.__args__) == set(ENVIRONMENTS) == set(DEFAULT_POLICY.environments)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "Deployment"}, "kind"),
        ({"env": "qa"}, "env"),
        ({"model": {"name": "churn", "version": "latest"}}, "model.version"),
        ({"model": {"name": "../x", "version": "1"}}, "model.name"),
        ({"lineage": {**GOOD["lineage"], "data": {}}}, "lineage.data"),
        ({"lineage": {**GOOD["lineage"], "git_commit": "abc"}}, "lineage.git_commit"),
        ({"image": {"repository": "mlops-serve", "digest": "latest"}}, "image.digest"),
        ({"serving": {"replicas": 0}}, "serving.replicas"),
        ({"serving": {"capture_sample_rate": 2}}, "serving.capture_sample_rate"),
        ({"gate": {**GOOD["gate"], "decision": "rejected"}}, "gate.decision"),
        ({"replicas": 3}, "replicas"),
    ],
)
def test_a_bad_manifest_is_refused_naming_the_file_and_the_field(change, field):
    import yaml

    with pytest.raises(MlopsError) as error:
        parse_release(yaml.safe_dump({**GOOD, **change}), "deploy/churn/staging.yaml")
    message = str(error.value)
    assert "deploy/churn/staging.yaml" in message and "Release schema" in message
    assert re.search(rf"(^|\s){re.escape(field)}: ", message), message


def test_manifest_round_trips_and_its_path_must_match(tmp_path):
    release = Release.model_validate(GOOD)
    path = manifest_path(tmp_path, "churn", "staging")
    path.parent.mkdir(parents=True)
    path.write_text(release.to_yaml())
    assert load_release(tmp_path, "churn", "staging") == release
    (tmp_path / "deploy" / "churn" / "prod.yaml").write_text(release.to_yaml())
    with pytest.raises(MlopsError, match="describes churn in staging, not churn in prod"):
        load_release(tmp_path, "churn", "prod")
    with pytest.raises(MlopsError, match="no release manifest .*deploy/other/staging.yaml"):
        load_release(tmp_path, "other", "staging")
    path.write_text("model: [unclosed")
    with pytest.raises(MlopsError, match="is not valid YAML"):
        load_release(tmp_path, "churn", "staging")


def test_committed_policy_loads_dev_merges_itself_staging_and_prod_wait(tmp_path):
    policy = load_policy(REPO_ROOT)
    assert policy.for_env("dev").auto_merge is True
    assert policy.for_env("staging").auto_merge is False and policy.for_env("prod").auto_merge is False
    assert policy.for_env("prod").reviewers == ["mlops-release-managers"]
    assert load_policy(tmp_path) == DEFAULT_POLICY  # a release repo without a policy file gets the same rules
    (tmp_path / "deploy").mkdir()
    bad = tmp_path / "deploy" / "policy.yaml"
    for text, field in [
        ("environments: {dev: {auto_merge: maybe}}", "environments.dev.auto_merge"),
        ("environments: {qa: {auto_merge: true}}", "environments.qa"),
        ("environments: {dev: {auto_merge: true, merge: yes}}", "environments.dev.merge"),
    ]:
        bad.write_text(text)
        with pytest.raises(MlopsError) as error:
            load_policy(tmp_path)
        message = str(error.value)
        assert "policy.yaml" in message and "Policy schema" in message and field in message, message
    bad.write_text("environments: {dev: {auto_merge: true}}")
    with pytest.raises(MlopsError, match=r"deploy/policy.yaml.*'prod'"):
        load_policy(tmp_path).for_env("prod")


def test_commit_message_carries_the_lineage_and_the_gate_numbers():
    release = Release.model_validate({**GOOD, "gate": {**GOOD["gate"], "champion_version": "6"}})
    previous = Release.model_validate({**GOOD, "model": {"name": "churn", "version": "6"}})
    text = commit_message(release, previous, {"roc_auc": 0.93, "f1": 0.8})
    subject, *body = text.splitlines()
    assert all(part in subject for part in ("churn", "7", "staging")), subject
    lines = "\n".join(body)
    for part in ["was v6",  # the version it replaces
                 "data/raw.csv", "c" * 32, "b" * 32, "a" * 40,  # the data, dvc.lock and project commit it came from
                 "passed", "0.9300", "0.9000",  # the gate: challenger against champion
                 "f1", "0.8000",  # the other metrics
                 f"mlops-serve@sha256:{'d' * 64}"]:  # fmt: skip
        assert part in lines, part
    first = commit_message(release, None, {})
    assert "first release" in first and "was v" not in first
    assert branch_name(release) != branch_name(previous)  # one branch per proposed version
    assert all(part in branch_name(release) for part in ("churn", "staging", "7"))
