"""The env's `deploy_targets` Terraform output is what `mlops deploy canary` reads (mlops.delivery.targets): the
fields the platform module outputs, and the fields its plan test checks, are the DeployTargets schema's, so a field
added on either side fails here."""

import re

import pytest

from mlops.core.terraform import TERRAFORM_DIR
from mlops.delivery.targets import DeployTargets

pytestmark = pytest.mark.unit
PLATFORM = TERRAFORM_DIR / "modules" / "platform"


def test_platform_plan_test_expects_exactly_the_deploy_targets_schema():
    text = (PLATFORM / "tests" / "plan.tftest.hcl").read_text()
    listed = re.search(r"toset\(keys\(output\.deploy_targets\)\)\s*==\s*toset\(\[(.*?)\]\)", text, flags=re.DOTALL)
    assert listed, "the platform plan test no longer checks the deploy_targets fields"
    assert set(re.findall(r'"([a-z_]+)"', listed.group(1))) == set(DeployTargets.model_fields)


def test_platform_outputs_exactly_the_deploy_targets_fields():
    outputs = (PLATFORM / "outputs.tf").read_text()
    block = outputs.split('output "deploy_targets"', 1)[1].split("\n}\n", 1)[0]
    value = block[block.index("value") :]
    depth, fields = 0, set()
    for line in value.splitlines():  # the keys at the top level of the output's object (not its precondition's)
        if depth == 1 and (key := re.match(r"\s*([a-z_]+)\s*=", line)):
            fields.add(key.group(1))
        depth += line.count("{") - line.count("}")
        if depth == 0 and fields:
            break
    assert fields == set(DeployTargets.model_fields)
