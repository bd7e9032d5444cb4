"""mlops.core.terraform without running Terraform: the envs it knows, the offline provider mirror, and clear errors
when Terraform or the mirror is missing. (Terraform itself runs in tests/integration/test_terraform_*.py.)"""

import pytest

from mlops.core.contracts import ENVIRONMENTS
from mlops.core.terraform import CLI_CONFIG, TerraformUnavailable, env_names, mirror_path, terraform_env

pytestmark = pytest.mark.unit


def test_env_names_are_the_environments_in_a_stable_order():
    assert env_names() == sorted(ENVIRONMENTS)


def test_offline_config_points_terraform_at_the_mirror():
    env = terraform_env()
    assert env["TF_CLI_CONFIG_FILE"] == str(CLI_CONFIG)
    assert (mirror_path() / "registry.terraform.io/hashicorp/aws").is_dir()


def test_missing_mirror_is_a_clear_error(tmp_path):
    config = tmp_path / "offline.tfrc"
    config.write_text(CLI_CONFIG.read_text().replace(str(mirror_path()), str(tmp_path / "nowhere")))
    assert mirror_path(config) == tmp_path / "nowhere"
    with pytest.raises(TerraformUnavailable, match=r"provider mirror .*nowhere.* is missing"):
        terraform_env(config)


def test_missing_terraform_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TerraformUnavailable, match="terraform is not on PATH"):
        terraform_env()
