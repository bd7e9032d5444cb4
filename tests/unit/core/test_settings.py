import pytest

from mlops.core.settings import SettingsError, get_settings
from tests.support.imports import execute_fresh, modules_of

pytestmark = pytest.mark.unit


def test_defaults_talk_to_real_aws_and_mlflow(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = get_settings()
    assert settings.data_bucket == "mlops-data"
    assert settings.metrics_namespace == "MLOps"
    assert settings.moto_port == 0


def test_environment_overrides_with_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_DATA_BUCKET", "team-data")
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("MLOPS_MLFLOW_PORT", "5005")
    settings = get_settings()
    assert settings.data_bucket == "team-data"
    assert settings.mlflow_port == 5005
    assert settings.stack_env_file == tmp_path / "stack.env"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MLOPS_MOTO_PORT", "abc", "valid integer"),
        ("MLOPS_MLFLOW_PORT", "70000", "less than or equal to 65535"),
        ("MLOPS_LOG_LEVEL", "LOUD", "should match pattern"),
        ("MLOPS_STACK_START_TIMEOUT_SECONDS", "-1", "greater than 0"),
    ],
)
def test_wrong_value_names_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as excinfo:
        get_settings()
    message = str(excinfo.value)
    assert variable in message and repr(value) in message and expected in message


@pytest.mark.parametrize("module", modules_of("mlops.core"))
def test_nothing_is_read_at_import(monkeypatch, module):
    monkeypatch.setenv("MLOPS_MOTO_PORT", "not-a-port")
    execute_fresh(module)  # would raise if the module built settings at import


def test_state_dir_is_the_users_and_the_same_from_every_directory(monkeypatch, tmp_path):
    """The local stack's state, the locks and the logs: one place, found from any directory (issue 15: `mlops stack
    status` said "stopped" from a model project while the stack ran, and two retrains each took their own lock)."""
    from mlops.core.locking import lock_path

    for variable in ("MLOPS_STATE_DIR", "MLOPS_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    found = []
    for where in (tmp_path, tmp_path / "models" / "churn"):
        where.mkdir(parents=True, exist_ok=True)
        monkeypatch.chdir(where)
        settings = get_settings()
        found.append((settings.state_dir, settings.stack_env_file, lock_path(settings.state_dir, "retrain", "m")))
    assert found[0] == found[1]
    assert found[0][0] == tmp_path / "home" / ".local" / "state" / "mlops"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert get_settings().state_dir == tmp_path / "xdg" / "mlops"
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops-home"))
    assert get_settings().state_dir == tmp_path / "mlops-home"
    assert get_settings().log_file == tmp_path / "mlops-home" / "logs" / "mlops.log"


def test_a_relative_state_dir_is_made_absolute_once(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLOPS_STATE_DIR", "state")
    settings = get_settings()
    assert settings.state_dir == tmp_path / "state" and settings.state_dir.is_absolute()
