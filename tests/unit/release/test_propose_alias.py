"""`mlops release propose --version @ALIAS`: a project proposes what its last passing train made champion (dev),
then what dev runs (staging), then what staging runs (prod). The alias is read when proposing; the manifest names
the number."""

import pytest

from mlops.core.errors import MlopsError
from mlops.core.settings import get_settings
from mlops.release import actions
from tests.support.registry import AliasRegistry

pytestmark = pytest.mark.unit


def test_an_alias_is_the_version_behind_it(monkeypatch):
    monkeypatch.setattr(actions, "Registry", AliasRegistry)
    settings = get_settings()
    assert actions.resolve_version(settings, "churn", "@champion") == "7"
    assert actions.resolve_version(settings, "churn", "@dev") == "6"
    assert actions.resolve_version(settings, "churn", "5") == "5"
    with pytest.raises(MlopsError, match="model 'churn' has no alias @staging: nothing to propose"):
        actions.resolve_version(settings, "churn", "@staging")
