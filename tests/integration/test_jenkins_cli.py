"""`mlops jenkins` against a local stand-in for the Jenkins JSON API (no controller can run here)."""

import pytest

from tests.conftest import run_mlops
from tests.support.jenkins_standin import JenkinsStandIn

pytestmark = pytest.mark.integration

TOKEN = "11aa22bb33cc"  # pragma: allowlist secret - the stand-in's own token


@pytest.fixture
def jenkins():
    with JenkinsStandIn(user="ci", token=TOKEN) as standin:
        standin.add_job("r5-mlops", parameters=["ENV", "FAIL_TESTS"])
        standin.add_job("nightly")
        yield standin


def _env(jenkins, token=TOKEN):
    return {"MLOPS_JENKINS_URL": jenkins.url, "MLOPS_JENKINS_USER": "ci", "MLOPS_JENKINS_API_TOKEN": token}


def test_trigger_follows_console_and_prints_test_summary(jenkins):
    result = run_mlops("jenkins", "trigger", "r5-mlops", "-p", "ENV=staging", "--interval", "0.2", env=_env(jenkins))
    assert result.returncode == 0, result.stderr
    assert "param ENV=staging" in result.stdout  # the parameter reached the build, and the console was streamed
    assert "r5-mlops #1: SUCCESS" in result.stdout
    assert "tests: 2 passed, 0 failed, 1 skipped" in result.stdout
    assert ("POST", "/job/r5-mlops/buildWithParameters") in jenkins.requests
    assert TOKEN not in result.stdout + result.stderr


def test_failed_tests_make_status_exit_1_and_name_the_failures(jenkins):
    triggered = run_mlops(
        "jenkins", "trigger", "r5-mlops", "-p", "FAIL_TESTS=1", "--interval", "0.2", env=_env(jenkins)
    )
    assert triggered.returncode == 1
    status = run_mlops("jenkins", "status", "r5-mlops", env=_env(jenkins))
    assert status.returncode == 1
    assert "r5-mlops #1: UNSTABLE" in status.stdout
    assert "tests: 1 passed, 1 failed, 1 skipped" in status.stdout
    assert "FAILED tests.unit.test_cli.test_usage" in status.stdout

    logs = run_mlops("jenkins", "logs", "r5-mlops", "--build", "1", env=_env(jenkins))
    assert logs.returncode == 0 and "Finished: UNSTABLE" in logs.stdout


def test_no_follow_only_queues(jenkins):
    result = run_mlops("jenkins", "trigger", "r5-mlops", "--no-follow", env=_env(jenkins))
    assert result.returncode == 0 and result.stdout.strip() == "r5-mlops: queued"


@pytest.mark.parametrize(
    ("args", "env_change", "code", "message"),
    [
        (
            ["status", "r5-mlops"],
            {"MLOPS_JENKINS_API_TOKEN": ""},
            1,
            "missing Jenkins credentials: set MLOPS_JENKINS_API_TOKEN",
        ),
        (
            ["status", "r5-mlops"],
            {"MLOPS_JENKINS_API_TOKEN": "wrong"},
            1,
            "answered HTTP 401 (check MLOPS_JENKINS_USER",
        ),
        (["status", "no-such-job"], {}, 1, "Jenkins has no job named 'no-such-job'"),
        (["status", "nightly"], {}, 1, "nightly has not been built yet"),
        (["trigger", "r5-mlops", "-p", "ENV"], {}, 2, "'ENV' is not NAME=VALUE"),
        (["trigger", "nightly", "-p", "A=1"], {}, 2, "job 'nightly' takes no parameters"),
        (["logs", "r5-mlops", "--build", "0"], {}, 2, "0 is not in the range x>=1"),
        (["trigger", "r5-mlops", "--token", "x"], {}, 2, "No such option '--token'"),
    ],
)
def test_bad_input_gets_a_clear_error(jenkins, args, env_change, code, message):
    result = run_mlops("jenkins", *args, env={**_env(jenkins), **env_change})
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_controller_is_a_clear_error():
    env = {"MLOPS_JENKINS_URL": "http://127.0.0.1:9", "MLOPS_JENKINS_USER": "ci", "MLOPS_JENKINS_API_TOKEN": TOKEN}
    result = run_mlops("jenkins", "status", "r5-mlops", env=env)
    assert result.returncode == 1 and "cannot reach Jenkins at http://127.0.0.1:9" in result.stderr
