"""The instance tag that pins every model a serving color serves, `mlops:model-version` = "NAME/VERSION NAME/VERSION"
(mlops.core.contracts): written by the deploy, read by the deploy and by the EC2 user data's shell parser
(terraform/modules/serving-asg/templates/model-uris.sh; the two are run on the same values in
tests/integration/test_model_version_tag.py)."""

import pytest

from mlops.core.contracts import (
    INSTANCE_TAG_VALUE_MAX,
    MODEL_VERSION_ENTRY_PATTERN,
    MODEL_VERSION_INSTANCE_TAG,
    ModelUriError,
    ModelVersionTagError,
    format_model_versions,
    parse_model_versions,
    pin_model_uris,
)
from mlops.core.paths import TERRAFORM_DIR

pytestmark = pytest.mark.unit


def test_the_tag_pins_each_model_once_sorted_and_reads_back():
    value = format_model_versions({"churn": "12", "demo-model": "3", "a.b_c": "1"})
    assert value == "a.b_c/1 churn/12 demo-model/3"
    assert parse_model_versions(value) == {"a.b_c": "1", "churn": "12", "demo-model": "3"}
    assert parse_model_versions("") == {} and format_model_versions({}) == ""
    assert parse_model_versions("demo-model/3") == {"demo-model": "3"}  # what a deploy before several models wrote
    assert parse_model_versions("  churn/2\tdemo-model/3 ") == {"churn": "2", "demo-model": "3"}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("churn", "'churn'"),
        ("churn/0", "'churn/0'"),
        ("churn/03", "'churn/03'"),
        ("churn/v3", "'churn/v3'"),
        ("a/b/3", "'a/b/3'"),
        ("-churn/3", "'-churn/3'"),
        ("churn/3 */4", "'*/4'"),
        ("chürn/3", "'chürn/3'"),
    ],
)
def test_a_malformed_entry_is_named(value, named):
    with pytest.raises(ModelVersionTagError) as refused:
        parse_model_versions(value)
    assert named in str(refused.value) and MODEL_VERSION_INSTANCE_TAG in str(refused.value)


def test_a_model_pinned_twice_is_refused():
    with pytest.raises(ModelVersionTagError, match="pins 'churn' twice"):
        parse_model_versions("churn/2 demo-model/3 churn/4")


@pytest.mark.parametrize("pins", [{"churn model": "2"}, {"churn": "0"}, {"churn": ""}, {"a/b": "3"}])
def test_what_the_tag_cannot_carry_is_not_written(pins):
    with pytest.raises(ModelVersionTagError, match="expected NAME/VERSION"):
        format_model_versions(pins)


def test_a_tag_over_the_ec2_limit_is_refused_with_the_way_out():
    pins = {f"model-{n:02d}-with-a-long-name": "123" for n in range(12)}
    assert len(" ".join(f"{k}/{v}" for k, v in pins.items())) > INSTANCE_TAG_VALUE_MAX
    with pytest.raises(ModelVersionTagError, match=f"over EC2's {INSTANCE_TAG_VALUE_MAX}.*split the models"):
        format_model_versions(pins)


def test_pinned_models_serve_their_version_and_the_rest_their_default():
    defaults = ["models:/demo-model@champion", "models:/churn@prod", "models:/fraud@champion"]
    uris = pin_model_uris(defaults, {"churn": "7", "gone": "2"})
    assert uris == ["models:/demo-model@champion", "models:/churn/7", "models:/fraud@champion"]  # order kept
    assert pin_model_uris(defaults, {}) == defaults
    with pytest.raises(ModelUriError):
        pin_model_uris(["demo-model"], {})


def test_the_user_data_parser_uses_the_contract_pattern():
    parser = (TERRAFORM_DIR / "modules/serving-asg/templates/model-uris.sh").read_text()
    assert f"entry_pattern='{MODEL_VERSION_ENTRY_PATTERN}'" in parser
