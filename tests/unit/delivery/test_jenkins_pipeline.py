"""The Jenkinsfile is thin: a build runs make targets (through the shared library's steps in jenkins/vars), and those
targets run mlops commands, so each stage runs the same on a laptop.

What a build does is read from the Jenkinsfile and the library (tests/support/jenkins_pipeline.py; no Jenkins
controller can run here, see jenkins/README.md), the Makefile's recipes statically (tests/support/makefile.py), and
each mlops command line is parsed by the real click commands in-process (tests/support/mlops_cli.py). The same
targets go through a real `make -n` in tests/integration/test_jenkins_make_targets.py."""

from typing import Any

import click
import pytest
import yaml

from mlops.core.contracts import ENVIRONMENTS
from mlops.core.paths import REPO_ROOT
from mlops.release.manifest import load_policy
from tests.support.jenkins_pipeline import JENKINSFILE, Call, Input, Make, Pipeline, tokenize
from tests.support.makefile import Makefile
from tests.support.mlops_cli import Invocation, parse

pytestmark = pytest.mark.unit

PIPELINE = Pipeline()
MAKEFILE = Makefile()
BUILD_ENV = {"GIT_COMMIT": "0123abcd"}  # what Jenkins sets for the build
DOCS_ONLY = ["README.md"]
MODEL_CODE = ["pipelines/src/mlops/training/stages.py"]
CHECK_TARGETS = {"lint", "test-unit", "test-integration", "test-bake", "scan"}


def _commands(make: Make) -> list[Invocation]:
    """The mlops commands `make TARGET VARS` runs, parsed as the console script would parse them."""
    found = []
    for argv in MAKEFILE.mlops_commands(make.target, make.vars):
        try:
            found.append(parse(argv))
        except click.UsageError as exc:
            pytest.fail(f"`make {make.target}` runs `mlops {' '.join(argv)}`: {exc.format_message()}")
    return found


def _timeline(build) -> list[tuple[str, Any]]:
    """A build as a sequence of events: ("make", target), ("mlops", Invocation) and ("input", Input)."""
    events: list[tuple[str, Any]] = []
    for _, action in build:
        if isinstance(action, Make):
            events.append(("make", action.target))
            events += [("mlops", invocation) for invocation in _commands(action)]
        elif isinstance(action, Input):
            events.append(("input", action))
    return events


def _invocations(events, name: str) -> list[tuple[int, Invocation]]:
    return [(i, e) for i, (kind, e) in enumerate(events) if kind == "mlops" and e.name == name]


def test_the_only_shell_command_is_make_of_the_asked_target_and_variables():
    jenkinsfile_steps = {t.value for t in tokenize(JENKINSFILE.read_text()) if t.kind == "name"}
    assert "sh" not in jenkinsfile_steps, "the Jenkinsfile runs shell itself instead of a library step"
    step = PIPELINE.make_step  # exactly one library step runs `sh`; every other one ends in it
    assert PIPELINE.make_command("setup", {}) == ["make", "setup"]
    assert PIPELINE.make_command("test-unit", {"PYTEST_ARGS": "-k stack -x", "ENV": "dev"}) == [
        "make", "test-unit", "PYTEST_ARGS=-k stack -x", "ENV=dev",
    ]  # fmt: skip
    for name in PIPELINE.steps:
        if name != step.name:
            assert not PIPELINE.steps[name].shell_commands()


def test_a_pull_request_runs_the_checks_and_a_plan_per_env_and_changes_nothing():
    build = PIPELINE.build("PR-7", MODEL_CODE, BUILD_ENV)  # model code changed, yet a PR neither trains nor deploys
    events = _timeline(build)
    assert {e for kind, e in events if kind == "make"} >= CHECK_TARGETS
    assert not [e for kind, e in events if kind == "input"]
    commands = [e for kind, e in events if kind == "mlops"]
    assert {c.name for c in commands} == {"infra plan"}, "a PR may only plan"
    assert sorted(c.params["env_name"] for c in commands) == sorted(ENVIRONMENTS)

    pr_stages = {name for name, _ in build}
    deploying = {name for name, a in PIPELINE.build("main", MODEL_CODE, BUILD_ENV) if isinstance(a, Make)
                 and any(c.name != "infra plan" for c in _commands(a))}  # fmt: skip
    bound = {s.name: {v.args[0] for v in s.environment.values() if isinstance(v, Call)} for s in PIPELINE.stages}
    assert not set().union(*(bound[s] for s in pr_stages)) & set().union(*(bound[s] for s in deploying)), (
        "a pull request build gets credentials a deploying stage uses"
    )


def test_main_builds_the_image_then_deploys_staging_then_prod_behind_a_manual_gate():
    events = _timeline(PIPELINE.build("main", DOCS_ONLY, BUILD_ENV))
    ((image_at, image),) = _invocations(events, "deploy image")
    assert image.params["tag"] == BUILD_ENV["GIT_COMMIT"]
    last_check = max(i for i, (kind, e) in enumerate(events) if kind == "make" and e in CHECK_TARGETS)
    assert last_check < image_at, "the image is built before the checks pass"

    deploys = _invocations(events, "release deploy")  # applies deploy/<model>/<env>.yaml from main
    assert [d.params["env"] for _, d in deploys] == ["staging", "prod"]
    assert all(d.params["rollout"] for _, d in deploys), "a deploy without the canary rollout"
    (staging_at, _), (prod_at, _) = deploys
    assert image_at < staging_at
    gates = [i for i, (kind, _) in enumerate(events) if kind == "input"]
    assert len(gates) == 1 and staging_at < gates[0] < prod_at
    smokes = _invocations(events, "deploy smoke")
    assert [s.params["environment"] for _, s in smokes] == ["staging", "prod"]
    (staging_smoke, _), (prod_smoke, _) = smokes
    assert staging_at < staging_smoke < gates[0] < prod_at < prod_smoke, "a smoke test out of place"
    assert not _invocations(events, "retrain run"), "only documentation changed, yet the build trains"


@pytest.mark.parametrize(
    ("changes", "trains"),
    [
        (MODEL_CODE, True),
        (["models/churn/data/raw.csv.dvc"], True),
        (["raw.csv.dvc"], True),
        (["models/churn/params.yaml"], True),
        (["dvc.yaml", "README.md"], True),
        (DOCS_ONLY, False),
        (["services/serving/src/mlops/serving/app.py"], False),
        (["terraform/envs/dev/main.tf"], False),
        ([], False),
    ],
)
def test_main_trains_and_proposes_a_staging_release_only_when_data_or_model_code_changed(changes, trains):
    events = _timeline(PIPELINE.build("main", changes, BUILD_ENV))
    runs = _invocations(events, "retrain run")
    assert bool(runs) is trains
    if trains:
        ((at, run),) = runs
        assert (run.params["trigger"], run.params["release_env"]) == ("ci", "staging")
        ((staging_at, _), _) = _invocations(events, "release deploy")
        assert at < staging_at


@pytest.mark.parametrize("stage", [s.name for s in PIPELINE.stages])
def test_every_stage_runs_make_targets_that_exist_and_mlops_commands_that_parse(stage):
    actions = PIPELINE.stage_actions(stage, BUILD_ENV)
    assert actions, f"stage {stage} does nothing"
    assert all(isinstance(a, Make | Input) for a in actions), f"stage {stage} runs a step that is not make or input"
    for make in (a for a in actions if isinstance(a, Make)):
        assert make.target in MAKEFILE.targets, f"stage {stage}: `make {make.target}` has no rule"
        assert set(make.vars) <= MAKEFILE.reads(), f"stage {stage}: the Makefile never reads {set(make.vars)}"
        _commands(make)


def test_post_steps_stop_the_stack_with_a_target_that_exists_and_never_wait():
    always = PIPELINE.post_actions("always", BUILD_ENV)
    stops = [m for m in always if isinstance(m, Make)]
    assert [c.name for m in stops for c in _commands(m)] == ["stack down"]
    for condition in PIPELINE.post:
        assert not [a for a in PIPELINE.post_actions(condition, BUILD_ENV) if isinstance(a, Input)]


def test_prod_waits_for_the_people_the_release_policy_names_and_jenkins_lets_them_approve():
    (gate,) = [a for _, a in PIPELINE.build("main", DOCS_ONLY, BUILD_ENV) if isinstance(a, Input)]
    submitters = {s.strip() for s in (gate.submitter or "").split(",") if s.strip()}
    assert submitters, "anyone who can build can approve prod"
    assert submitters <= set(load_policy(REPO_ROOT).for_env("prod").reviewers)
    casc = yaml.safe_load((REPO_ROOT / "jenkins" / "casc" / "jenkins.yaml").read_text())
    granted = {e["group"]["name"]: e["group"]["permissions"] for e in
               casc["jenkins"]["authorizationStrategy"]["globalMatrix"]["entries"] if "group" in e}  # fmt: skip
    for group in submitters:
        assert "Job/Build" in granted.get(group, []), f"{group} may not approve: the controller grants it nothing"


def test_aws_keys_come_only_from_credential_bindings_the_controller_defines():
    for stage in PIPELINE.stages:
        for name, value in stage.environment.items():
            if name.startswith("AWS_") and ("KEY" in name or "SECRET" in name):
                assert isinstance(value, Call) and value.name == "credentials", f"{stage.name}: {name} is not bound"
    assert not any("KEY" in n or "SECRET" in n for n in PIPELINE.environment), "a key in the pipeline environment"
    casc = yaml.safe_load((REPO_ROOT / "jenkins" / "casc" / "jenkins.yaml").read_text())
    defined = {next(iter(c.values()))["id"] for d in casc["credentials"]["system"]["domainCredentials"]
               for c in d["credentials"]}  # fmt: skip
    used = PIPELINE.credentials_used()
    assert used and used <= defined, f"not defined on the controller: {used - defined}"


def test_the_library_the_jenkinsfile_loads_is_this_repositorys_steps():
    casc = yaml.safe_load((REPO_ROOT / "jenkins" / "casc" / "jenkins.yaml").read_text())
    libraries = {lib["name"]: lib for lib in casc["unclassified"]["globalLibraries"]["libraries"]}
    assert PIPELINE.libraries and set(PIPELINE.libraries) <= set(libraries)
    for name in PIPELINE.libraries:
        vars_dir = REPO_ROOT / libraries[name]["retriever"]["modernSCM"]["libraryPath"] / "vars"
        assert vars_dir.resolve() == PIPELINE.library_dir.resolve(), f"library {name} loads {vars_dir}"
