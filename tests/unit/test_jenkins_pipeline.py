"""The Jenkinsfile is thin: every stage maps to make targets that exist, whose mlops commands exist, so each stage
runs the same on a laptop. (No Jenkins controller can run here; see jenkins/README.md.)"""

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_mlops

JENKINSFILE = (REPO_ROOT / "Jenkinsfile").read_text()
LIBRARY = {path.stem: path.read_text() for path in (REPO_ROOT / "jenkins" / "vars").glob("*.groovy")}
# what each library step runs, as make targets (the steps' bodies are checked against this below)
STEP_TARGETS = {
    "mlopsMake": lambda arg: [arg],
    "mlopsTest": lambda suite: [f"test-{suite}"],
    "mlopsPlan": lambda _: ["plan"],
    "mlopsDeploy": lambda _: ["deploy", "smoke"],
    "mlopsTrain": lambda _: ["train-register"],
}
PR_STAGES = [
    "Setup",
    "Lint",
    "Unit tests",
    "Integration tests",
    "Template bake tests",
    "Security scan",
    "Terraform plan",
]
MAIN_STAGES = ["Build and push image", "Train and register", "Deploy staging", "Approve prod", "Deploy prod"]
# the Train and register stage runs on main only when data or model code changed (issue 7)
TRAIN_CHANGESETS = ["pipelines/**", "**/*.dvc", "**/params.yaml", "**/dvc.yaml"]


def _stages() -> dict[str, str]:
    """stage name -> its body (up to the next stage)."""
    parts = re.split(r"stage\('([^']+)'\)", JENKINSFILE.split("post {")[0])
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _targets(body: str) -> list[str]:
    targets = []
    for step, arg in re.findall(r"(mlops[A-Z]\w+)\(\s*(?:'([^']*)'|\[)", body):
        assert step in STEP_TARGETS, f"unknown library step {step}"
        targets += STEP_TARGETS[step](arg)
    return targets


def _dry_run(target: str) -> list[str]:
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target, "ENV=dev", "IMAGE_TAG=abc123"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"make {target}: {result.stderr}"
    return result.stdout.splitlines()


@pytest.mark.unit
def test_stages_are_the_pr_and_merge_stages_in_order():
    assert list(_stages()) == PR_STAGES + MAIN_STAGES
    for name in MAIN_STAGES:
        if name == "Train and register":
            continue
        assert "when { branch 'main' }" in _stages()[name], f"{name} must run only on main"
    train = re.sub(r"\s+", " ", _stages()["Train and register"])
    assert "when { allOf { branch 'main' anyOf {" in train
    assert re.findall(r"changeset '([^']+)'", train) == TRAIN_CHANGESETS
    assert "mlopsTrain('staging')" in train
    assert "submitter:" in _stages()["Approve prod"]


@pytest.mark.unit
def test_library_steps_only_run_make():
    shell_steps = [
        (name, line.strip()) for name, body in LIBRARY.items() for line in body.splitlines() if "sh " in line
    ]
    assert shell_steps == [("mlopsMake", 'sh "make ${target} ${assignments}".trim()')]
    for name, body in LIBRARY.items():
        if name not in ("mlopsMake", "mlopsNotify"):  # notify only sends mail
            assert "mlopsMake(" in body, f"{name} must go through mlopsMake"
    assert 'mlopsMake("test-${suite}"' in LIBRARY["mlopsTest"]
    assert "mlopsMake('plan'" in LIBRARY["mlopsPlan"]
    assert "mlopsMake('deploy'" in LIBRARY["mlopsDeploy"] and "mlopsMake('smoke'" in LIBRARY["mlopsDeploy"]
    assert "mlopsMake('train-register', [RELEASE_ENV: releaseEnv])" in LIBRARY["mlopsTrain"]


@pytest.mark.unit
def test_credentials_only_through_bindings():
    assert not re.search(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)\s*=\s*'", JENKINSFILE)
    bindings = re.findall(r"AWS_\w+ = (\w+)\('", JENKINSFILE)
    assert bindings and set(bindings) == {"credentials"}


@pytest.mark.unit
@pytest.mark.parametrize("stage", PR_STAGES + MAIN_STAGES)
def test_every_stage_maps_to_make_targets_and_mlops_commands_that_exist(stage):
    targets = _targets(_stages()[stage])
    if stage == "Approve prod":
        assert targets == []  # the manual input gate runs nothing
        return
    assert targets, f"stage {stage} runs no make target"
    for target in targets:
        for line in _dry_run(target):
            match = re.search(r"\.venv/bin/mlops ((?:[a-z-]+ ?)+)", line)
            if match:
                words = match.group(1).split()
                help_result = run_mlops(*words[:2], "--help")
                assert help_result.returncode == 0, f"`mlops {' '.join(words[:2])}` (make {target}) does not exist"


@pytest.mark.integration
def test_security_scan_stage_runs_here_and_writes_junit(tmp_path):
    result = subprocess.run(["make", "scan"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    report = (Path(REPO_ROOT) / "reports" / "checkov.xml").read_text()
    assert "<testsuites" in report and 'failures="0"' in report


@pytest.mark.unit
def test_controller_config_defines_the_library_and_every_credential_the_jenkinsfile_uses():
    import yaml

    casc = yaml.safe_load((REPO_ROOT / "jenkins" / "casc" / "jenkins.yaml").read_text())
    (library,) = casc["unclassified"]["globalLibraries"]["libraries"]
    assert f"library '{library['name']}'" in JENKINSFILE
    assert library["retriever"]["modernSCM"]["libraryPath"] == "jenkins/"
    defined = {
        next(iter(c.values()))["id"] for c in casc["credentials"]["system"]["domainCredentials"][0]["credentials"]
    }
    pipeline = JENKINSFILE + "".join(LIBRARY.values())
    used = {a or b for a, b in re.findall(r"credentials\('([^']+)'\)|credentialsId: '([^']+)'", pipeline)}
    assert used and used <= defined
    assert "mlops-release-managers" in str(casc["jenkins"]["authorizationStrategy"])


@pytest.mark.unit
def test_deploy_applies_the_release_manifest_and_training_proposes_one():
    """Deploy reads Git (the manifest on main), and a passing CI training ends in a release proposal (issue 10)."""
    (deploy,) = [line for line in _dry_run("deploy") if "bin/mlops" in line]
    assert re.search(r"mlops release deploy --env dev --model \S+ --rollout$", deploy), deploy
    (train,) = [line for line in _dry_run("train-register") if "bin/mlops" in line]
    assert re.search(r"mlops retrain run --model \S+ --trigger ci --release-env staging$", train), train
