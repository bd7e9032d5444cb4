"""Tying one color's rendered serving manifests to its load balancing (`bind_color`): its ALB target group from
deploy_targets, and an autoscaling query that counts only its own requests. The render itself runs kubectl:
tests/integration/test_serving_manifests.py renders every overlay and binds both colors."""

import pytest
import yaml

from mlops.delivery.deploy import COLOR_PLACEHOLDER, NAMESPACE_PLACEHOLDER, TARGET_GROUP_PLACEHOLDER, bind_color
from mlops.delivery.targets import DeployError

pytestmark = pytest.mark.unit

BLUE_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mlops-dev-blue/0123456789abcdef"
QUERY = (
    f'sum(mlops_serving_in_flight_requests{{namespace="{NAMESPACE_PLACEHOLDER}",mlops_color="{COLOR_PLACEHOLDER}"}})'
)


def _render(target_group: str = TARGET_GROUP_PLACEHOLDER, bindings: int = 1) -> str:
    """What render_overlay returns for the blue color, cut down to the documents bind_color reads."""
    binding = {
        "apiVersion": "eks.amazonaws.com/v1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": "mlops-serve-blue", "namespace": "mlops-dev"},
        "spec": {
            "targetGroupARN": target_group,
            "targetType": "ip",
            "serviceRef": {"name": "mlops-serve-blue", "port": 80},
        },
    }
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "mlops-serve-blue", "namespace": "mlops-dev"},
        "spec": {
            "scaleTargetRef": {"name": "mlops-serve-blue"},
            "triggers": [
                {"type": "prometheus", "metadata": {"query": QUERY, "threshold": "8"}},
                {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}},
            ],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mlops-serve-blue", "namespace": "mlops-dev"},
    }
    return yaml.safe_dump_all([service, *[binding] * bindings, scaled])


def test_the_color_joins_its_target_group_and_scales_on_its_own_requests():
    documents = {d["kind"]: d for d in yaml.safe_load_all(bind_color(_render(), "blue", BLUE_TG, "overlays/dev"))}
    assert documents["TargetGroupBinding"]["spec"]["targetGroupARN"] == BLUE_TG
    prometheus, cpu = documents["ScaledObject"]["spec"]["triggers"]
    assert prometheus["metadata"]["query"] == (
        'sum(mlops_serving_in_flight_requests{namespace="mlops-dev",mlops_color="blue"})'
    )
    assert cpu["metadata"] == {"value": "70"}  # untouched
    assert documents["Service"]["metadata"]["name"] == "mlops-serve-blue"


@pytest.mark.parametrize(
    ("render", "target_group", "message"),
    [
        (_render(), "mlops-dev-blue", "'mlops-dev-blue', not an ELB target group ARN"),
        (_render(), BLUE_TG.replace("targetgroup", "loadbalancer/app"), "not an ELB target group ARN"),
        (_render(bindings=0), BLUE_TG, "renders 0 TargetGroupBindings: the blue color needs exactly one"),
        (_render(bindings=2), BLUE_TG, "renders 2 TargetGroupBindings"),
        (_render(target_group=BLUE_TG), BLUE_TG, "names target group 'arn:aws:elasticloadbalancing"),
    ],
)
def test_a_wrong_target_group_or_binding_is_refused_naming_it(render, target_group, message):
    with pytest.raises(DeployError) as raised:
        bind_color(render, "blue", target_group, "overlays/dev")
    assert message in str(raised.value)


def test_a_placeholder_left_elsewhere_is_refused():
    render = _render().replace("value: '70'", f"value: {COLOR_PLACEHOLDER}")
    with pytest.raises(DeployError, match=f"still carries '{COLOR_PLACEHOLDER}' after binding the blue color"):
        bind_color(render, "blue", BLUE_TG, "overlays/dev")
