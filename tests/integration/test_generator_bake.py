"""Bake the model-project template in four combinations (each problem type, both serving targets, monitoring and
retraining on and off; one slug with a hyphen) and hold each generated project to what a model team does with it.

- On a clean environment: the platform's venv is off PATH, no VIRTUAL_ENV, no endpoints in the environment (the
  projects find the local stack through its state dir, MLOPS_HOME), Python writes bytecode as on any laptop. Each
  project's own `make test` creates its .venv from its committed uv.lock (the platform's parts from the wheels
  `mlops new-model` built, everything else from uv's cache) and passes; `make lint` (ruff, terraform fmt) passes.
- Each project's own `make scan` (checkov) finds 0 failed; `terraform validate` passes for each against this checkout's
  modules; every env's kustomize overlay renders on this checkout's serving base; the Jenkinsfiles lint in one call.
- Three journeys on the team's own data, one per problem type, each a scikit-learn bundled dataset (breast cancer,
  wine, diabetes): swap the sample for it in params.yaml and data/, `make test`, `dvc add`, `make data`,
  `make train` (pull, repro, register, gate), `make serve`, `make smoke`, `make drift`.
- The release loop on the binary one (a bare Git remote as origin): its train proposes dev, which merges itself;
  `make deploy ENV=dev` moves @dev and the served version; staging and prod follow through reviewed (merged)
  manifests; a second train reaches dev and staging while prod stays; `git revert` + deploy rolls staging and dev
  back, and the server follows.

Expensive tools run once over all projects where they can (one groovy-lint call, one Terraform plugin cache)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from mlops.core.terraform import terraform_env
from tests.conftest import REPO_ROOT, run_mlops
from tests.support.jenkins_dryrun import EXAMPLE_CONTROLLER, RecordingAgent, node_environment
from tests.support.jenkins_pipeline import LIBRARY_DIR, Build, Trigger, parse
from tests.support.makefile import Makefile
from tests.support.serving import free_port

pytestmark = [pytest.mark.integration, pytest.mark.bake]
BIN = Path(sys.executable).parent
COMBINATIONS = {
    "binary-eks": {"problem_type": "binary_classification", "serving_target": "eks", "model_family":
                   "sklearn_random_forest", "include_drift_monitoring": "yes", "include_scheduled_retraining": "yes"},
    "multiasg": {"problem_type": "multiclass_classification", "serving_target": "asg", "model_family":
                 "sklearn_linear", "include_drift_monitoring": "yes", "include_scheduled_retraining": "no"},
    "regreks": {"problem_type": "regression", "serving_target": "eks", "model_family": "sklearn_random_forest",
                "include_drift_monitoring": "yes", "include_scheduled_retraining": "no"},
    "binaryasg": {"problem_type": "binary_classification", "serving_target": "asg", "model_family":
                  "sklearn_linear", "include_drift_monitoring": "no", "include_scheduled_retraining": "no"},
}  # fmt: skip
# the team's own data: a scikit-learn bundled dataset per problem type, with the gate floors a team would set for it
OWN_DATA = {
    "binary-eks": ("load_breast_cancer", [], {"roc_auc": 0.9, "accuracy": 0.85}),
    "multiasg": ("load_wine", [], {"accuracy": 0.8, "f1": 0.75}),
    "regreks": ("load_diabetes", ["sex"], {"r2": 0.2, "rmse": 70.0}),
}
ENVS = ("dev", "staging", "prod")
API_KEY = "bake-journey-key-0123"  # pragma: allowlist secret - a throwaway key for a loopback test server


def _platform_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def _user_env() -> dict[str, str]:
    """A model team's shell: the platform's venv not on PATH, no endpoints exported (the projects find the stack
    through its state dir), bytecode written as usual."""
    drop = {"VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "MLOPS_STATE_DIR", "AWS_ENDPOINT_URL", "MLFLOW_TRACKING_URI",
            "MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLOPS_KMS_KEY_ARN"}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != BIN)
    if "MLOPS_STATE_DIR" in os.environ:  # the session's stack, as a user's MLOPS_HOME
        env["MLOPS_HOME"] = os.environ["MLOPS_STATE_DIR"]
    return env


def _each(projects: dict[str, Path], check, workers: int | None = None) -> None:
    """check(slug, root) for every project at once (or `workers` at a time)."""
    with ThreadPoolExecutor(max_workers=workers or len(projects)) as pool:
        for future in [pool.submit(check, slug, root) for slug, root in projects.items()]:
            future.result()  # re-raises the first failed assertion


def _run(cmd: list[str], cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=cwd, env=env or _platform_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def make(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The project's own `make`, in a model team's shell."""
    return _run(["make", "--no-print-directory", *args], root, timeout=timeout, env=_user_env())


def ok(result: subprocess.CompletedProcess, what: str) -> str:
    assert result.returncode == 0, f"{what} exited {result.returncode}:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def projects(local_stack, tmp_path_factory) -> dict[str, Path]:
    """Generated with the local stack up (as a team on a laptop), from this checkout: the platform comes from the
    wheels `mlops new-model` builds (once: the other three take them from the state dir's cache)."""
    out = tmp_path_factory.mktemp("baked")

    def generate(slug: str, answers: dict[str, str]) -> None:
        pairs = [f"{k}={v}" for k, v in answers.items()] + [f"owner={slug}-team@example.com"]
        result = run_mlops("new-model", slug, "--no-input", "--output-dir", str(out), *pairs, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "[3/3] done" in result.stdout and "the platform from wheels" in result.stdout

    first, *rest = COMBINATIONS.items()
    generate(*first)  # builds the wheels
    _each(dict(rest), lambda slug, answers: generate(slug, answers))
    return {slug: out / slug for slug in COMBINATIONS}


def test_generated_layout_and_record(projects):
    import git

    for slug, root in projects.items():
        answers, package = COMBINATIONS[slug], slug.replace("-", "_")
        repo = git.Repo(root)
        assert not repo.is_dirty(untracked_files=True), f"{slug}: generation left uncommitted files"
        assert len(list(repo.iter_commits())) == 1
        tracked = set(repo.git.ls_files().splitlines())
        assert {
            "uv.lock",
            "pyproject.toml",
            "deploy/policy.yaml",
            "data/raw.csv.dvc",
            f"src/{package}/train.py",
        } <= tracked
        assert {
            f"wheels/{p.replace('-', '_')}-0.2.0-py3-none-any.whl" for p in ("mlops-core", "mlops-tools")
        } <= tracked
        assert {f"terraform/envs/{env}.{kind}" for env in ENVS for kind in ("tfvars", "backend.hcl")} <= tracked
        assert {f"deploy/envs/{env}.mk" for env in ENVS} <= tracked
        record = json.loads((root / ".mlops-template.json").read_text())
        assert record["answers"]["problem_type"] == answers["problem_type"]
        assert len(record["commit"]) == 40 and record["path"] == "templates/model-project"
        assert f"url = s3://mlops-data/dvc/{slug}" in (root / ".dvc/config").read_text()
        assert "endpointurl = http://127.0.0.1:" in (root / ".dvc/config.local").read_text()  # plain dvc finds it
        assert (root / "deploy/k8s").is_dir() == (answers["serving_target"] == "eks")
        assert not (root / "deploy/asg").exists()
        assert (root / "monitoring").is_dir() == (answers["include_drift_monitoring"] == "yes")
        stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
        assert all(f"src/{package}" in stage["deps"] for stage in stages.values())  # code changes retrain
        jenkinsfile = (root / "Jenkinsfile").read_text()
        assert "library 'r5-mlops'" in jenkinsfile
        assert ("cron(" in jenkinsfile) == (answers["include_scheduled_retraining"] == "yes")


def test_each_project_passes_its_own_make_test_and_lint_on_a_clean_environment(projects):
    """`make test` exactly as the README says, first thing after generation: no platform venv, no override."""

    def check(slug: str, root: Path) -> None:
        tests = ok(make(root, "test"), f"{slug} make test")
        # "N failed", not the word: sklearn's ConvergenceWarning ("lbfgs failed to converge") may be in the summary
        assert re.search(r"\d+ passed", tests) and not re.search(r"\d+ failed", tests), tests[-3000:]
        assert (root / ".venv/bin/mlops").is_file() and not (root / ".venv/bin/mlops").is_symlink()
        # checkov runs once over every project below; the other hooks run here as the project's CI would
        lint = _run(["make", "lint"], root, env={**_user_env(), "SKIP": "checkov"})
        assert lint.returncode == 0, f"{slug} make lint:\n{lint.stdout}{lint.stderr}"
        assert "ruff check" in lint.stdout and "terraform fmt" in lint.stdout

    _each(projects, check, workers=2)


def test_checkov_finds_nothing_in_any_project(projects):
    """Each project's own `make scan` (its .checkov.yaml: Terraform and the overlays), one project after another:
    checkov's kustomize runner breaks when given several projects at once. CHECKOV names the platform's checkov, the
    same version the project pins for uvx, so no download is needed here."""
    import xml.etree.ElementTree as ElementTree

    checkov = REPO_ROOT / ".venv-tools/checkov/bin/checkov"
    if not checkov.exists():
        pytest.fail(f"{checkov} is missing: run `make setup`")
    for slug, root in projects.items():
        scan = _run(["make", "scan", f"CHECKOV={checkov}"], root, env={**_user_env(), "BC_SKIP_MAPPING": "TRUE"},
                    timeout=300)  # fmt: skip
        assert scan.returncode == 0, f"{slug}: {scan.stdout[-3000:]}{scan.stderr[-2000:]}"
        report = root / "reports" / "checkov.xml"  # written by the checkov just run, not untrusted input
        suites = ElementTree.parse(report).getroot().iter("testsuite")  # noqa: S314
        found = {suite.get("name", ""): int(suite.get("failures", "0")) for suite in suites}
        assert any("terraform" in name for name in found), f"{slug}: {found}"
        if (root / "deploy" / "k8s").is_dir():
            assert any("kustomize" in name for name in found), f"{slug}: {found}"
        assert sum(found.values()) == 0, f"{slug}: {scan.stdout[-4000:]}"


def test_terraform_validates_against_the_monorepo_modules(projects, tmp_path_factory):
    env = {**terraform_env(), "TF_PLUGIN_CACHE_DIR": str(tmp_path_factory.mktemp("tf-plugin-cache"))}
    for slug, root in projects.items():  # one at a time: Terraform's plugin cache is not safe for concurrent inits
        init = _run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], root / "terraform", env=env)
        assert init.returncode == 0, f"{slug}: {init.stdout}{init.stderr}"

    def validate(slug: str, root: Path) -> None:
        valid = _run(["terraform", "validate", "-no-color"], root / "terraform", env=env)
        assert valid.returncode == 0 and "The configuration is valid" in valid.stdout, f"{slug}: {valid.stderr}"
        for env_name in ENVS:  # every env's values name the platform's resources of that env
            values = (root / f"terraform/envs/{env_name}.tfvars").read_text()
            assert f'environment         = "{env_name}"' in values
            assert f"arn:aws:s3:::mlops-{env_name}-data-111122223333" in values  # terraform/modules/s3's names

    _each(projects, validate)


def test_each_envs_overlay_follows_its_own_alias_as_its_own_role(projects):
    for slug, root in projects.items():
        if not (root / "deploy/k8s").is_dir():
            continue
        for env in ENVS:
            rendered = _run(["kubectl", "kustomize", str(root / f"deploy/k8s/overlays/{env}")], root, timeout=60)
            assert rendered.returncode == 0, rendered.stderr
            docs = {d["kind"]: d for d in yaml.safe_load_all(rendered.stdout)}
            assert all(d["metadata"]["namespace"] == f"mlops-{slug}" for d in docs.values())
            config = docs["ConfigMap"]["data"]
            assert config["MLOPS_SERVE_MODEL_URI"] == f"models:/{slug}@{env}"
            assert config["MLFLOW_TRACKING_URI"] == f"https://mlflow.{env}.mlops.internal"
            role = docs["ServiceAccount"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            assert role == f"arn:aws:iam::111122223333:role/mlops-{env}-{slug}-serving"  # the project's Terraform


def test_jenkinsfiles_run_the_platforms_shared_steps_on_their_own_make_targets(projects, tmp_path):
    """Walked as a merge to main with every approval given (tests/support/jenkins_pipeline.py): the same roles,
    approvals, locks and clean-up as the platform's pipeline, and every make call has a rule in the project."""
    node = node_environment(EXAMPLE_CONTROLLER)
    parse([*(root / "Jenkinsfile" for root in projects.values()), *sorted(LIBRARY_DIR.glob("*.groovy"))])  # one JVM
    for slug, root in projects.items():
        agent = RecordingAgent(tmp_path / slug)
        build = Build(Trigger("main", ["src/x.py"]), agent, node, approve=lambda _: True,
                      jenkinsfile=root / "Jenkinsfile").run()  # fmt: skip
        assert build.result == "SUCCESS", slug
        steps = {s["expr"]["name"] for s in parse([root / "Jenkinsfile"])[root / "Jenkinsfile"]["statements"]}
        assert steps == {"library", "pipeline"}
        targets = Makefile(root / "Makefile").targets
        for script in build.make_calls():
            assert script.split()[1] in targets, f"{slug}: `{script}` has no rule"
        assert [e.detail["submitter"] for e in build.of("input")] == [node["MLOPS_APPROVERS_STAGING"],
                                                                      node["MLOPS_APPROVERS_PROD"]]  # fmt: skip
        assert [e.detail["resource"] for e in build.of("lock")] == [f"{slug}-{e}" for e in ("dev", "staging", "prod")]
        assert {e.detail["role"] for e in build.of("assume") if "apply" in e.detail["role"]} == {
            f"mlops-{e}-terraform-apply" for e in ("dev", "staging", "prod")}  # fmt: skip
        assert "make image IMAGE_TAG='0123abcd'" not in build.make_calls()


def test_jenkinsfiles_lint_in_one_call(projects):
    lint = REPO_ROOT / "jenkins/lint/node_modules/.bin/npm-groovy-lint"
    if not lint.exists():
        installed = _run(["make", "jenkins/lint/node_modules/.installed"], REPO_ROOT, timeout=600)
        assert installed.returncode == 0, installed.stderr
    files = [str(root / "Jenkinsfile") for root in projects.values()]
    result = _run([str(lint), "--failon", "error", "--output", "txt", *files], REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- the team's own data, end to end -------------------------------------------------------------------------------


def _swap_in_own_data(root: Path, loader: str, slices: list[str], floors: dict[str, float]) -> None:
    """What the generated README's "Your own data" says: the data in data/raw.csv, its columns and their data
    classes in params.yaml (all internal: these datasets hold no personal data), the gate's floors for it, the
    sample's drift weights gone."""
    import sklearn.datasets

    frame = getattr(sklearn.datasets, loader)(as_frame=True).frame
    frame.to_csv(root / "data/raw.csv", index=False)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"].update(features=[c for c in frame.columns if c != "target"], target="target", slice_columns=slices,
                          classes=dict.fromkeys(frame.columns, "internal"))  # fmt: skip
    params["gate"]["floors"] = floors
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "monitoring/importance.json").unlink(missing_ok=True)


def _git(root: Path, *args: str) -> str:
    return ok(_run(["git", *args], root, env=_user_env()), f"git {' '.join(args)}")


class Served:
    """`make serve` of a project in the background, on a free port."""

    def __init__(self, root: Path, *args: str):
        self.root, self.port = root, free_port()
        self.log = root / "reports" / f"serve-{self.port}.log"
        self.log.parent.mkdir(exist_ok=True)
        env = {**_user_env(), "MLOPS_SERVE_API_KEYS": API_KEY, "MLOPS_SERVE_RELOAD_INTERVAL_SECONDS": "0.5"}
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(["make", "--no-print-directory", "serve", f"PORT={self.port}", *args],
                                         cwd=root, env=env, stdout=out, stderr=out, start_new_session=True)  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"

    def version(self) -> str | None:
        try:
            response = httpx.get(self.url + "/health/ready", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)
        except httpx.TransportError:
            return None
        return response.headers.get("x-model-version") if response.status_code == 200 else None

    def wait_for(self, version: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.version() != version and time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.3)
        assert self.version() == version, f"serving {self.version()}, not v{version}\n{self.log.read_text()[-3000:]}"

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)


def _journey(slug: str, root: Path, origin: Path | None) -> dict:
    loader, slices, floors = OWN_DATA[slug]
    _swap_in_own_data(root, loader, slices, floors)
    tests = ok(make(root, "test"), f"{slug} make test on its own data")  # columns and slices from params.yaml
    assert re.search(r"\d+ passed", tests)
    ok(_run([str(root / ".venv/bin/dvc"), "add", "data/raw.csv"], root, env=_user_env()), "dvc add")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", f"our own data: {loader}")
    if origin is not None:
        _git(root, "remote", "add", "origin", str(origin))
        _git(root, "push", "-q", "origin", "main")
    ok(make(root, "data"), f"{slug} make data")  # plain dvc push to the stack's bucket
    train = ok(make(root, "train"), f"{slug} make train")
    outcome = json.loads((root / "reports/train.json").read_text())
    assert outcome["decision"] == "passed" and outcome["version"] == "1", outcome
    assert "gate PASSED" in train and ("dev merges itself" in train) == (origin is not None), train
    assert not list(root.rglob("mlflow.db")) and not (root / "mlruns").exists()
    return {"outcome": outcome, "train": train}


def _serve_smoke_drift(slug: str, root: Path, alias: str) -> dict:
    served = Served(root, f"ALIAS={alias}")
    try:
        served.wait_for("1")
        smoke = make(root, "smoke", f"PORT={served.port}", "ROWS=120", f"MLOPS_API_KEY={API_KEY}")
        assert ok(smoke, f"{slug} make smoke").splitlines()[-1].startswith("120 predictions: [")  # after make's echo
        drift = make(root, "drift")
    finally:
        served.stop()
    ok(drift, f"{slug} make drift")
    report = json.loads((root / "reports/drift.json").read_text())
    return {"report": report}


@pytest.fixture(scope="module")
def journeys(projects, local_stack, tmp_path_factory):
    """The three own-data journeys, two at a time (one per core: most of each is process start-up and I/O, the
    training itself is small). The binary one has a bare Git remote as origin, so its passing train proposes a dev
    release, which merges itself."""
    import git

    origin = tmp_path_factory.mktemp("origin") / "binary-eks.git"
    git.Repo.init(origin, bare=True, initial_branch="main")
    facts = {}

    def journey(slug: str, root: Path) -> None:
        facts[slug] = _journey(slug, root, origin if slug == "binary-eks" else None)

    _each({slug: projects[slug] for slug in OWN_DATA}, journey, workers=2)
    return {"facts": facts, "origin": origin}


@pytest.mark.parametrize("slug", ["multiasg", "regreks"])
def test_own_data_trains_registers_serves_and_checks_drift(projects, journeys, slug):
    from mlflow import MlflowClient

    root = projects[slug]
    tags = MlflowClient().get_model_version(slug, "1").tags
    assert tags["mlops.gate.decision"] == "passed" and tags["mlops.git.dirty"] == "false"
    assert tags["mlops.data.data/raw.csv.md5"] in (root / "data/raw.csv.dvc").read_text()
    metrics, data = json.loads((root / "metrics.json").read_text()), pd.read_csv(root / "data/raw.csv")
    slices = OWN_DATA[slug][1]
    assert set(metrics["slices"]) == {f"{c}={v}" for c in slices for v in data[c].unique()}  # every value held out
    drift = _serve_smoke_drift(slug, root, "champion")["report"]  # the check of the rows `make serve` captured
    assert drift["summary"]["current_rows"] >= 50 and drift["summary"]["tested_columns"] >= 3, drift["summary"]
    assert drift["summary"]["model_name"] == slug and "target" not in drift["columns"]  # the label is no feature


@pytest.mark.slow
def test_release_loop_dev_staging_prod_and_revert(projects, journeys):
    """The binary own-data project: train -> dev (merged by itself) -> deploy; staging and prod by reviewed merges;
    a second train moves dev and staging, not prod; a revert + deploy brings staging and dev back."""
    import git
    from mlflow import MlflowClient

    slug, root, origin = "binary-eks", projects["binary-eks"], journeys["origin"]
    client = MlflowClient()

    def alias(env: str) -> str | None:
        try:
            return client.get_model_version_by_alias(slug, env).version
        except Exception:
            return None

    def merge(branch: str) -> None:  # what approving the pull request does: main fast-forwards to the branch
        bare = git.Repo(origin)
        assert bare.is_ancestor(bare.heads["main"].commit, bare.heads[branch].commit), branch
        bare.heads["main"].commit = bare.heads[branch].commit

    def deploy(env: str) -> None:  # on the local stack, with no cluster: the README's KUBE_CONTEXT= (alias only)
        _git(root, "pull", "-q", "--ff-only", "origin", "main")
        ok(make(root, "deploy", f"ENV={env}", "KUBE_CONTEXT="), f"make deploy ENV={env}")

    assert (root / "deploy" / slug).exists() is False  # main of the checkout: not pulled yet
    deploy("dev")
    assert (
        alias("dev") == "1"
        and yaml.safe_load((root / f"deploy/{slug}/dev.yaml").read_text())["model"]["version"] == "1"
    )
    served = Served(root, "ENV=dev")
    try:
        served.wait_for("1")
        smoke = make(root, "smoke", f"PORT={served.port}", "ROWS=120", f"MLOPS_API_KEY={API_KEY}")
        assert ok(smoke, "make smoke").splitlines()[-1].startswith("120 predictions: [")
        assert json.loads(ok(make(root, "drift"), "make drift") and (root / "reports/drift.json").read_text())
        for env, source in (("staging", "dev"), ("prod", "staging")):
            proposed = ok(make(root, "propose", f"ENV={env}"), f"make propose ENV={env}")
            assert f"{slug}@{source} is version 1" in proposed and "open a pull request" in proposed
            assert alias(env) is None  # waits for review
            merge(f"release/{slug}/{env}/v1")
            deploy(env)
            assert alias(env) == "1"
        ok(make(root, "release-diff", "ENV=prod"), "make release-diff ENV=prod")

        # v2: a params change (more trees; the team accepts any change of the primary metric) retrains
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["train"]["n_estimators"] = 60
        params["gate"]["min_improvement"] = -1.0
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        _git(root, "commit", "-q", "-am", "more trees")
        _git(root, "pull", "-q", "--rebase", "origin", "main")
        _git(root, "push", "-q", "origin", "main")
        assert "dev merges itself" in ok(make(root, "train"), "make train v2")
        deploy("dev")
        served.wait_for("2")
        ok(make(root, "propose", "ENV=staging"), "make propose ENV=staging v2")
        merge(f"release/{slug}/staging/v2")
        deploy("staging")
        assert (alias("dev"), alias("staging"), alias("prod")) == ("2", "2", "1")  # prod waits for its approval

        # rolling back is a revert of the release commits on main, then the same deploys
        for env in ("staging", "dev"):
            commit = _git(root, "log", "-1", "--format=%H", f"--grep=release: {slug} v2 to {env}").strip()
            _git(root, "revert", "--no-edit", commit)
        _git(root, "push", "-q", "origin", "main")
        deploy("staging")
        deploy("dev")
        served.wait_for("1")
        assert (alias("dev"), alias("staging"), alias("prod")) == ("1", "1", "1")
        for env in ENVS:
            ok(make(root, "release-diff", f"ENV={env}"), f"make release-diff ENV={env}")
    finally:
        served.stop()
    assert len(client.search_model_versions(f"name='{slug}'")) == 2  # no env registered a version of its own
