"""The EC2 user data's shell parser of the instance tag `mlops:model-version` (serving-asg's
templates/model-uris.sh, inserted verbatim into the user data) and mlops.core.contracts' parse_model_versions and
pin_model_uris, run on the same tag values: what the instance serves is what the deploy meant, and a value one side
refuses the other refuses too. Real bash (the hosts run bash 5 from Amazon Linux 2023; this one runs Debian's)."""

import subprocess

import pytest

from mlops.core.contracts import ModelVersionTagError, format_model_versions, parse_model_versions, pin_model_uris
from mlops.core.paths import TERRAFORM_DIR

pytestmark = pytest.mark.integration

PARSER = TERRAFORM_DIR / "modules" / "serving-asg" / "templates" / "model-uris.sh"
DEFAULTS = ["models:/demo-model@champion", "models:/churn@champion", "models:/fraud.v2@champion"]
VALUES = [
    "",
    "demo-model/3",  # a tag from before several models
    "churn/12 demo-model/3",
    format_model_versions({"churn": "7", "demo-model": "4", "fraud.v2": "1"}),
    "  churn/2\t demo-model/3  ",
    "gone/5 churn/2",  # a model the env no longer serves: reported, skipped
    "churn/2 churn/3",
    "churn",
    "churn/0",
    "churn/03",
    "a/b/3",
    "churn/3 */4",  # no glob expansion on the host
    "chürn/3",  # ASCII ranges in any locale
    "churn/3;reboot",
    "$(reboot)/3",
]


def _shell(value: str, defaults: list[str], locale: str) -> subprocess.CompletedProcess:
    script = f'set -euo pipefail\nsource "{PARSER}"\nmodel_uris "$@"\n'
    env = {"PATH": "/usr/bin:/bin", "LANG": locale, "LC_ALL": locale}
    argv = ["bash", "-c", script, "model-uris", value, *defaults]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)


@pytest.mark.parametrize("locale", ["C.UTF-8", "en_US.UTF-8"])
def test_the_shell_parser_and_the_contract_agree(locale):
    for value in VALUES:
        done = _shell(value, DEFAULTS, locale)
        try:
            pins = parse_model_versions(value)
        except ModelVersionTagError:
            assert done.returncode != 0 and done.stdout == "", (value, done.stdout)
            assert "mlops:model-version" in done.stderr, (value, done.stderr)
            continue
        assert done.returncode == 0, (value, done.stderr)
        assert done.stdout == ",".join(pin_model_uris(DEFAULTS, pins)) + "\n", value
        skipped = sorted(set(pins) - {uri.split("/")[1].split("@")[0] for uri in DEFAULTS})
        assert [name for name in skipped if f"pins '{name}', which this env does not serve" in done.stderr] == skipped


def test_one_model_and_no_tag_serve_the_default():
    done = _shell("", ["models:/demo-model@champion"], "C.UTF-8")
    assert (done.returncode, done.stdout, done.stderr) == (0, "models:/demo-model@champion\n", "")
