"""The Jenkinsfile, its shared library and the JCasC, read by real parsers (Groovy's, from npm-groovy-lint's install,
and YAML) and walked as builds (tests/support/jenkins_pipeline.py): which stages a PR and a merge run, under which
roles, behind which approvals, and what the controller must provide. Commands are recorded here, not run: the
dry runs that run them are in tests/integration/test_jenkins_dry_run.py and test_infra_dev_env.py."""

from __future__ import annotations

import re
import tomllib

import click
import pytest
import yaml

from mlops.core.paths import REPO_ROOT
from mlops.release.manifest import load_policy
from tests.support.jenkins_dryrun import EXAMPLE_CONTROLLER, RecordingAgent, node_environment
from tests.support.jenkins_pipeline import CASC, LIBRARY_DIR, Build, Trigger, parse
from tests.support.makefile import Makefile
from tests.support.mlops_cli import parse as parse_mlops

pytestmark = pytest.mark.integration

NODE = node_environment(EXAMPLE_CONTROLLER)
CHECKS = [
    "make setup",
    "make lint",
    "make test-unit PYTEST_ARGS='--junitxml=reports/unit.xml'",
    "make test-integration PYTEST_ARGS='--junitxml=reports/integration.xml'",
    "make test-bake PYTEST_ARGS='--junitxml=reports/bake.xml'",
    "make scan",
    "make release-scan",
]
PLANS = [f"make plan ENV='{e}' IMAGE_TAG='0123abcd'" for e in ("dev", "staging", "prod")]
CASC_DOC = yaml.safe_load(CASC.read_text())


def approve_as(group: str):
    return lambda request: group in request["submitter"].split(",")


def _build(tmp_path, trigger, approve=None, exit_codes=None, **kwargs) -> Build:
    return Build(trigger, RecordingAgent(tmp_path, exit_codes), NODE, approve=approve, **kwargs).run()


def _calls_with_role(build: Build) -> list[tuple[str, str | None]]:
    """Each command with the role whose session credentials it ran under (None: the agent's own identity)."""
    return [(e.detail["script"], (e.detail["env"].get("AWS_ACCESS_KEY_ID") or "")[4:] or None) for e in build.of("sh")]


def test_a_pull_request_runs_the_checks_and_a_saved_plan_per_env_under_read_only_roles_and_nothing_else(tmp_path):
    build = _build(tmp_path, Trigger("PR-7", ["README.md"], change_target="main"))
    assert build.result == "SUCCESS"
    assert _calls_with_role(build) == [
        *((c, None) for c in CHECKS),
        *((p, f"mlops-{e}-terraform-plan") for p, e in zip(PLANS, ("dev", "staging", "prod"), strict=False)),
        ("make stack-down", None),
    ]
    assert [e.detail["name"] for e in build.of("stash")] == ["terraform-plans"]
    assert not build.of("input") and not build.of("lock") and not build.of("unstash")
    assert [e.stage for e in build.of("skip")] == [
        "Train and register",
        "Deploy dev",
        "Approve staging",
        "Deploy staging",
        "Approve prod",
        "Deploy prod",
    ]


def test_a_merge_applies_each_envs_saved_plan_and_deploys_behind_its_lock_and_approval(tmp_path):
    approvers = {e: NODE[f"MLOPS_APPROVERS_{e.upper()}"] for e in ("staging", "prod")}
    build = _build(
        tmp_path, Trigger("main", ["deploy/churn/dev.yaml"]), approve=lambda r: r["submitter"] in approvers.values()
    )
    assert build.result == "SUCCESS"
    deploys = [(c, r) for c, r in _calls_with_role(build) if c not in CHECKS + PLANS + ["make stack-down"]]
    expected = []
    for env in ("dev", "staging", "prod"):
        expected += [
            (f"make apply ENV='{env}'", f"mlops-{env}-terraform-apply"),
            ("make image IMAGE_TAG='0123abcd'", f"mlops-{env}-deploy"),
            (f"make package ENV='{env}' IMAGE_TAG='0123abcd'", f"mlops-{env}-deploy"),
            (f"make deploy ENV='{env}'", f"mlops-{env}-deploy"),
            (f"make smoke ENV='{env}'", f"mlops-{env}-deploy"),
        ]
    assert deploys == expected
    for env in ("dev", "staging", "prod"):
        stage = f"Deploy {env}"
        assert [e.detail["resource"] for e in build.of("lock", stage)] == [f"r5-mlops-{env}"]
        kinds = [e.kind for e in build.events if e.stage == stage and e.kind in ("agent", "unstash", "sh")]
        assert kinds[:3] == ["agent", "unstash", "sh"], "the saved plan is unstashed before anything runs"
    for env, group in approvers.items():
        stage = f"Approve {env}"
        kinds = [e.kind for e in build.events if e.stage == stage]
        assert "agent" not in kinds and "sh" not in kinds, f"{stage} holds an agent while it waits"
        assert kinds.count("milestone") == 2 and kinds.index("milestone") < kinds.index("input")
        timeouts = [e.detail for e in build.of("option", stage) if e.detail["name"] == "timeout"]
        assert timeouts == [{"name": "timeout", "time": 1, "unit": "DAYS"}]
        (request,) = [e.detail for e in build.of("input", stage)]
        assert request["submitter"] == group
    # who approved reaches the deploy after the approval (its evidence records it), and no other deploy
    approved_by = {e.stage: e.detail["env"].get("MLOPS_RELEASE_APPROVED_BY") for e in build.of("sh")
                   if e.detail["script"].startswith("make deploy")}  # fmt: skip
    assert approved_by == {"Deploy dev": None, "Deploy staging": f"a member of {approvers['staging']}",
                           "Deploy prod": f"a member of {approvers['prod']}"}  # fmt: skip
    # no pipeline-wide timeout cuts an approval off: only agent stages have theirs
    assert not [e for e in build.of("option") if e.stage == "" and e.detail["name"] == "timeout"]


def test_an_approval_nobody_in_the_group_gives_stops_the_build_before_the_env(tmp_path):
    build = _build(tmp_path, Trigger("main", ["README.md"]), approve=approve_as("acme*someone-else"))
    assert build.result == "WAITING" and build.stages_run()[-1] == "Approve staging"
    assert not [c for c, _ in _calls_with_role(build) if "ENV='staging'" in c and not c.startswith("make plan")]


def test_only_the_configured_groups_approve_and_the_realm_has_groups():
    policy = load_policy(REPO_ROOT)
    assert "github" in CASC_DOC["jenkins"]["securityRealm"], "a realm without groups: no submitter group can exist"
    granted = {
        e["group"]["name"]: e["group"]["permissions"]
        for e in CASC_DOC["jenkins"]["authorizationStrategy"]["globalMatrix"]["entries"]
        if "group" in e
    }
    for env in ("staging", "prod"):
        group = NODE[f"MLOPS_APPROVERS_{env.upper()}"]
        assert group == f"acme*{policy.for_env(env).reviewers[0]}", "Jenkins approvers differ from deploy/policy.yaml"
        template = next(g for g in granted if re.sub(r"\$\{MLOPS_GITHUB_ORG\}", "acme", g) == group)
        assert "Job/Build" in granted[template]


def test_a_rejected_gate_makes_the_build_unstable_and_still_deploys_what_main_says(tmp_path):
    build = _build(
        tmp_path, Trigger("main", ["pipelines/src/mlops/training/stages.py"]), exit_codes={"make train-register": 3}
    )
    assert build.result == "WAITING"  # at the staging approval, after dev
    assert [e.detail["name"] for e in build.of("step", "Train and register")] == ["unstable"]
    assert "make deploy ENV='dev'" in build.make_calls("Deploy dev")
    broken = _build(tmp_path / "broken", Trigger("main", ["pipelines/x.py"]), exit_codes={"make train-register": 1})
    assert broken.result == "FAILURE" and "Deploy dev" not in broken.stages_run()
    assert [e.detail["name"] for e in broken.of("step") if e.stage == ""] == ["mail"]


def test_no_aws_key_anywhere_the_controller_or_a_stage_holds_it(tmp_path):
    text = CASC.read_text()
    assert not re.search(r"AWS_(ACCESS|SECRET)|aws[-_](plan|train|deploy)", text, re.IGNORECASE)
    for credential in (c for d in CASC_DOC["credentials"]["system"]["domainCredentials"] for c in d["credentials"]):
        assert next(iter(credential)) in ("gitHubApp", "string")
    build = _build(tmp_path, Trigger("main", ["pipelines/x.py"]), approve=lambda _: True)
    for command, role in _calls_with_role(build):
        if role is None:
            assert not command.startswith(("make apply", "make deploy", "make plan", "make image")), command
    assert all(e.detail["use_node"] for e in build.of("assume")), "withAWS must start from the agent's identity"


def test_the_library_is_this_repositorys_steps_pinned_to_a_release_tag():
    (library,) = CASC_DOC["unclassified"]["globalLibraries"]["libraries"]
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert library["defaultVersion"] == f"v{version}" and library["allowVersionOverride"] is False
    assert (REPO_ROOT / library["retriever"]["modernSCM"]["libraryPath"] / "vars").resolve() == LIBRARY_DIR.resolve()
    ast = parse([REPO_ROOT / "Jenkinsfile"])[REPO_ROOT / "Jenkinsfile"]
    loaded = [s["expr"]["args"][0]["v"] for s in ast["statements"] if s["expr"].get("name") == "library"]
    assert loaded == [library["name"]]


# the plugin behind each step and JCasC key the pipeline and controller use
PLUGIN_OF = {
    "withAWS": "pipeline-aws",
    "lock": "lockable-resources",
    "milestone": "pipeline-milestone-step",
    "input": "pipeline-input-step",
    "cleanWs": "ws-cleanup",
    "junit": "junit",
    "mail": "mailer",
    "withCredentials": "credentials-binding",
    "timestamps": "timestamper",
    "library": "pipeline-groovy-lib",
    "stash": "workflow-aggregator",
    "parallel": "workflow-aggregator",
    "sh": "workflow-aggregator",
    "github": "github-oauth",
    "globalMatrix": "matrix-auth",
    "globalLibraries": "pipeline-groovy-lib",
    "gitHubPluginConfig": "github",
    "lockableResourcesManager": "lockable-resources",
    "gitHubApp": "github-branch-source",
    "jobs": "job-dsl",
    "multibranchPipelineJob": "workflow-aggregator",
    "organizationFolder": "github-branch-source",
    "string": "plain-credentials",
    "gitUsernamePassword": "credentials-binding",  # pragma: allowlist secret
    "buildDiscarder": "workflow-aggregator",
}


def _step_names(node) -> set[str]:
    names = set()
    if isinstance(node, dict):
        if node.get("k") == "call" and node.get("obj") is None:
            names.add(node["name"])
        for value in node.values():
            names |= _step_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= _step_names(item)
    return names


def test_every_plugin_is_pinned_and_every_step_and_setting_has_its_plugin():
    lines = [
        line
        for line in (REPO_ROOT / "jenkins" / "casc" / "plugins.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[a-z0-9-]+:[\w.-]+", line) for line in lines), "a plugin without a pinned version"
    pinned = {line.split(":")[0] for line in lines}
    files = [REPO_ROOT / "Jenkinsfile", *sorted(LIBRARY_DIR.glob("*.groovy"))]
    steps = set().union(*(_step_names(ast) for ast in parse(files).values())) & set(PLUGIN_OF)
    keys = {"github", "globalMatrix", "globalLibraries", "gitHubPluginConfig", "lockableResourcesManager", "jobs"}
    keys |= {next(iter(c)) for d in CASC_DOC["credentials"]["system"]["domainCredentials"] for c in d["credentials"]}
    needed = {PLUGIN_OF[name] for name in steps | keys} | {"configuration-as-code"}
    assert steps >= {"withAWS", "lock", "milestone", "input", "cleanWs", "stash"}
    assert needed <= pinned, f"used but not in plugins.txt: {needed - pinned}"


@pytest.mark.parametrize("trigger", [Trigger("PR-7", [], "main"), Trigger("main", ["pipelines/x.py"])], ids=str)
def test_every_make_call_has_a_rule_and_its_mlops_commands_parse(tmp_path, trigger, monkeypatch):
    makefile = Makefile()
    build = _build(tmp_path, trigger, approve=lambda _: True)
    workspace = RecordingAgent(tmp_path / "parse").checkout()  # where `make apply` finds the saved plans
    monkeypatch.chdir(workspace)
    for script in build.make_calls():
        _, target, *assignments = script.split()
        variables = dict(a.replace("'", "").split("=", 1) for a in assignments)
        assert target in makefile.targets and set(variables) <= makefile.reads(), script
        for argv in makefile.mlops_commands(target, variables):
            try:
                parse_mlops(argv)
            except click.UsageError as exc:
                pytest.fail(f"`{script}` runs `mlops {' '.join(argv)}`: {exc.format_message()}")
