"""`mlops release propose --version @ALIAS` (the command is mlops.delivery's): the alias is resolved before
proposing, the number is what gets proposed, a malformed version is a usage error."""

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.release import actions
from tests.support.registry import AliasRegistry

pytestmark = pytest.mark.unit


def test_the_cli_proposes_the_number(monkeypatch):
    monkeypatch.setattr(actions, "Registry", AliasRegistry)
    proposed = []

    def propose(settings, model, env, version, url, image, host, evidence=None):
        proposed.append((model, env, version))
        assert evidence is None  # no --evidence: the manifest alone
        return actions.gitops.Proposal(f"release/{model}/{env}/v{version}", "c" * 40, True, "dev merges itself")

    monkeypatch.setattr(actions, "propose_version", propose)
    args = ["release", "propose", "--env", "dev", "--model", "churn", "--repo", "/nowhere.git", "--version"]
    result = CliRunner().invoke(cli, [*args, "@champion"])
    assert result.exit_code == 0, result.output
    assert "churn@champion is version 7" in result.output and proposed == [("churn", "dev", "7")]
    bad = CliRunner().invoke(cli, [*args, "@"])
    assert bad.exit_code == 2 and "is not a model version number or @alias" in bad.output
