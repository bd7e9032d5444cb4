"""Bake the model-project template in four combinations (each problem type, both serving targets, monitoring
and retraining on and off) and hold each generated project to what its own CI does: its pytest, its pre-commit
(ruff, terraform fmt), checkov with 0 failed, terraform validate against this checkout's modules, its Jenkinsfile
through npm-groovy-lint, its kustomize overlay rendered against this checkout's serving base. Then train and
register two of them on the local stack through DVC, and serve one.

Expensive tools run once over all projects (one checkov, one groovy-lint call, one Terraform plugin cache)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mlops.core.terraform import terraform_env
from tests.conftest import REPO_ROOT, run_mlops

pytestmark = [pytest.mark.integration, pytest.mark.bake]
BIN = Path(sys.executable).parent
COMBINATIONS = {
    "binaryeks": {"problem_type": "binary_classification", "serving_target": "eks", "model_family":
                  "sklearn_random_forest", "include_drift_monitoring": "yes", "include_scheduled_retraining": "yes"},
    "multiasg": {"problem_type": "multiclass_classification", "serving_target": "asg", "model_family":
                 "sklearn_linear", "include_drift_monitoring": "no", "include_scheduled_retraining": "no"},
    "regreks": {"problem_type": "regression", "serving_target": "eks", "model_family": "sklearn_random_forest",
                "include_drift_monitoring": "no", "include_scheduled_retraining": "yes"},
    "binaryasg": {"problem_type": "binary_classification", "serving_target": "asg", "model_family":
                  "sklearn_linear", "include_drift_monitoring": "yes", "include_scheduled_retraining": "no"},
}  # fmt: skip
SERVING_BASE = REPO_ROOT / "services/serving/k8s/base"
API_KEY = "bake-key"  # pragma: allowlist secret - a throwaway key for a loopback test server


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def _each(projects: dict[str, Path], check) -> None:
    """check(slug, root) for every project at once: the steps are mostly process start-up and disk I/O."""
    with ThreadPoolExecutor(max_workers=len(projects)) as pool:
        for future in [pool.submit(check, slug, root) for slug, root in projects.items()]:
            future.result()  # re-raises the first failed assertion


def _run(cmd: list[str], cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("baked")

    def generate(slug: str, answers: dict[str, str]) -> None:
        overlay = out / slug / "deploy/k8s"
        pairs = [f"{k}={v}" for k, v in answers.items()] + [
            f"terraform_modules_source={REPO_ROOT / 'terraform/modules'}",
            f"kustomize_base={os.path.relpath(SERVING_BASE, overlay)}",  # kustomize takes relative paths only
            f"owner={slug}-team@example.com",
        ]
        result = run_mlops("new-model", slug, "--no-input", "--output-dir", str(out), *pairs, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "[3/3] done" in result.stdout

    _each(COMBINATIONS, generate)
    made = {slug: out / slug for slug in COMBINATIONS}
    return made


def test_generated_layout_and_record(projects):
    import git

    for slug, root in projects.items():
        answers = COMBINATIONS[slug]
        repo = git.Repo(root)
        assert not repo.is_dirty(untracked_files=True), f"{slug}: generation left uncommitted files"
        assert len(list(repo.iter_commits())) == 1
        record = json.loads((root / ".mlops-template.json").read_text())
        assert record["answers"]["problem_type"] == answers["problem_type"]
        assert len(record["commit"]) == 40 and record["path"] == "templates/model-project"
        assert (root / "data/raw.csv.dvc").is_file() and (root / f"src/{slug}/train.py").is_file()
        assert "url = s3://mlops-data/dvc/" + slug in (root / ".dvc/config").read_text()
        assert (root / "deploy/k8s").is_dir() == (answers["serving_target"] == "eks")
        assert (root / "deploy/asg").is_dir() == (answers["serving_target"] == "asg")
        assert (root / "monitoring").is_dir() == (answers["include_drift_monitoring"] == "yes")
        jenkinsfile = (root / "Jenkinsfile").read_text()
        assert "library 'r5-mlops'" in jenkinsfile
        assert ("cron(" in jenkinsfile) == (answers["include_scheduled_retraining"] == "yes")


def test_each_project_passes_its_own_tests_and_precommit(projects):
    def check(slug: str, root: Path) -> None:
        tests = _run([str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"], root)
        assert tests.returncode == 0, f"{slug} pytest:\n{tests.stdout}{tests.stderr}"
        assert " passed" in tests.stdout and "failed" not in tests.stdout
        # checkov runs once over every project below; the other hooks run here as the project's CI would
        hooks = _run([str(BIN / "pre-commit"), "run", "--all-files"], root, env={**_env(), "SKIP": "checkov"})
        assert hooks.returncode == 0, f"{slug} pre-commit:\n{hooks.stdout}{hooks.stderr}"
        assert "ruff check" in hooks.stdout and "terraform fmt" in hooks.stdout

    _each(projects, check)


def test_checkov_finds_nothing_in_any_project(projects):
    checkov = REPO_ROOT / ".venv-tools/checkov/bin/checkov"
    if not checkov.exists():
        pytest.fail(f"{checkov} is missing: run `make setup`")
    dirs = [arg for root in projects.values() for arg in ("-d", str(root))]
    result = _run(
        [str(checkov), *dirs, "--framework", "terraform", "kustomize", "--compact", "--quiet", "-o", "json"],
        REPO_ROOT,
        env={**_env(), "BC_SKIP_MAPPING": "TRUE"},
        timeout=600,
    )
    reports, text, at = [], result.stdout, 0
    while text[at:].strip():  # one JSON document per framework run, printed back to back
        at = len(text) - len(text[at:].lstrip())
        document, at = json.JSONDecoder().raw_decode(text, at)
        reports.extend(document if isinstance(document, list) else [document])
    kinds = {r["check_type"] for r in reports}
    assert {"terraform", "kustomize"} <= kinds, result.stdout[-2000:]
    assert all(r["summary"]["failed"] == 0 for r in reports), result.stdout[-4000:]
    assert all(r["summary"]["passed"] > 0 for r in reports)
    assert result.returncode == 0, result.stderr[-2000:]


def test_terraform_validates_against_the_monorepo_modules(projects, tmp_path_factory):
    env = {**terraform_env(), "TF_PLUGIN_CACHE_DIR": str(tmp_path_factory.mktemp("tf-plugin-cache"))}
    for slug, root in projects.items():  # one at a time: Terraform's plugin cache is not safe for concurrent inits
        init = _run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], root / "terraform", env=env)
        assert init.returncode == 0, f"{slug}: {init.stdout}{init.stderr}"

    def validate(slug: str, root: Path) -> None:
        valid = _run(["terraform", "validate", "-no-color"], root / "terraform", env=env)
        assert valid.returncode == 0 and "The configuration is valid" in valid.stdout, f"{slug}: {valid.stderr}"

    _each(projects, validate)


def test_kustomize_overlay_renders_on_the_serving_base(projects):
    import yaml

    for slug, root in projects.items():
        if not (root / "deploy/k8s").is_dir():
            continue
        rendered = _run(["kubectl", "kustomize", str(root / "deploy/k8s")], root, timeout=60)
        assert rendered.returncode == 0, rendered.stderr
        docs = {d["kind"]: d for d in yaml.safe_load_all(rendered.stdout)}
        assert all(d["metadata"]["namespace"] == f"mlops-{slug}" for d in docs.values())
        config = docs["ConfigMap"]["data"]
        assert config["MLOPS_SERVE_MODEL_URI"] == f"models:/{slug}@champion"
        role = docs["ServiceAccount"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert role.endswith(f"role/mlops-dev-{slug}-serving")  # the role the project's Terraform creates


def test_jenkinsfiles_lint_in_one_call(projects):
    lint = REPO_ROOT / "jenkins/lint/node_modules/.bin/npm-groovy-lint"
    if not lint.exists():
        installed = _run(["make", "jenkins/lint/node_modules/.installed"], REPO_ROOT, timeout=600)
        assert installed.returncode == 0, installed.stderr
    files = [str(root / "Jenkinsfile") for root in projects.values()]
    result = _run([str(lint), "--failon", "error", "--output", "txt", *files], REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def _pipeline_run(root: Path) -> dict[str, str]:
    """dvc push the generated data version, then `mlops pipeline run` (pull, repro, register)."""
    push = _run([str(BIN / "dvc"), "remote", "modify", "--local", "storage", "endpointurl",
                 os.environ["AWS_ENDPOINT_URL"]], root)  # fmt: skip
    assert push.returncode == 0, push.stderr
    push = _run([str(BIN / "dvc"), "push"], root)
    assert push.returncode == 0, push.stdout + push.stderr
    run = run_mlops("pipeline", "run", "--project", str(root), cwd=root, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "registered" in run.stdout
    from mlflow import MlflowClient

    versions = MlflowClient().search_model_versions(f"name='{root.name}'")
    assert len(versions) == 1
    return {"version": versions[0].version, **versions[0].tags}


@pytest.fixture(scope="module")
def trained(projects, local_stack) -> dict[str, dict[str, str]]:
    """The binary project (platform stages) and the multiclass one (its own stages), one after the other:
    training is CPU-bound, so running them side by side on two cores is slower, not faster."""
    return {slug: _pipeline_run(projects[slug]) for slug in ("binaryeks", "multiasg")}


def test_binary_project_trains_registers_with_lineage_and_serves(projects, trained):
    import git

    root = projects["binaryeks"]
    tags = trained["binaryeks"]
    assert tags["mlops.git.commit"] == git.Repo(root).head.commit.hexsha
    assert tags["mlops.git.dirty"] == "false"
    assert tags["mlops.dvc.remote_url"] == "s3://mlops-data/dvc/binaryeks"
    assert tags["mlops.data.data/raw.csv.md5"] in (root / "data/raw.csv.dvc").read_text()
    assert tags["mlops.gate.decision"] == "passed", tags["mlops.gate.reasons"]

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**_env(), "MLOPS_SERVE_API_KEYS": API_KEY, "MLOPS_SERVE_RELOAD_INTERVAL_SECONDS": "0"}
    server = subprocess.Popen(
        [str(BIN / "mlops"), "serve", "--model-uri", f"models:/binaryeks/{tags['version']}", "--port", str(port)],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read()
            time.sleep(0.5)
        else:
            pytest.fail("mlops serve did not become ready within 120 s")
        # the project's own smoke test (its `make smoke`) against the served model
        smoke = _run([sys.executable, "-m", "binaryeks.predict", "--url", f"http://127.0.0.1:{port}", "--rows", "7"],
                     root, env={**_env(), "PYTHONPATH": "src", "MLOPS_API_KEY": API_KEY})  # fmt: skip
        assert smoke.returncode == 0, smoke.stderr
        assert smoke.stdout.startswith("7 predictions: [")
        refused = _run([sys.executable, "-m", "binaryeks.predict", "--url", f"http://127.0.0.1:{port}"], root,
                       env={**_env(), "PYTHONPATH": "src", "MLOPS_API_KEY": API_KEY + "-wrong"})  # fmt: skip
        assert refused.returncode == 1 and "401" in refused.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_multiclass_project_trains_with_its_own_stages_and_registers(projects, trained):
    root = projects["multiasg"]
    tags = trained["multiasg"]
    assert tags["mlops.dvc.remote_url"] == "s3://mlops-data/dvc/multiasg"
    assert "mlops.data.data/raw.csv.md5" in tags and tags["mlops.git.dirty"] == "false"
    assert tags["mlops.gate.decision"] == "passed", tags["mlops.gate.reasons"]
    metrics = json.loads((root / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.6 and set(metrics["slices"]) == {"segment=a", "segment=b", "segment=c"}
