"""One process serving several models (issue 19): the URI list from --model-uri or MLOPS_SERVE_MODEL_URI, which model
a request is for, the metric label it gets, and the OpenAPI document of each model's routes. In process; the real
server with two registered models is tests/integration/test_serving_multi_model.py."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlops.core.contracts import ModelUriError
from mlops.core.settings import get_settings
from mlops.serving.app import ServingApp
from mlops.serving.cli import serve
from mlops.serving.inputs import ClientError, TabularSchema
from mlops.serving.model import ModelSource, parse_sources, split_model_uris
from mlops.serving.openapi import openapi_document
from mlops.serving.routing import MODEL_INVOCATIONS_ROUTE, known_path, match

pytestmark = pytest.mark.unit


def _app(*uris: str) -> ServingApp:
    """The app as a worker builds it (nothing is loaded until its lifespan starts)."""
    return ServingApp(get_settings(), parse_sources(list(uris), "default-model"))


def test_the_setting_holds_one_uri_or_several_separated_by_commas(monkeypatch):
    monkeypatch.setenv("MLOPS_SERVE_MODEL_URI", "models:/churn@champion, models:/fraud/3")
    uris = split_model_uris(get_settings().serve_model_uri or "")
    assert uris == ["models:/churn@champion", "models:/fraud/3"]
    assert [s.name for s in parse_sources(uris, "default-model")] == ["churn", "fraud"]
    assert split_model_uris("models:/churn@champion") == ["models:/churn@champion"]
    assert split_model_uris("  ") == []


def test_an_empty_entry_a_duplicate_model_or_no_uri_is_refused_naming_it(tmp_path):
    with pytest.raises(ModelUriError, match="empty entry"):
        split_model_uris("models:/churn@champion,,models:/fraud/3")
    with pytest.raises(ModelUriError, match="'churn'") as exc:
        parse_sources(["models:/churn@champion", "models:/churn/4"], "default-model")
    assert "models:/churn@champion" in str(exc.value) and "models:/churn/4" in str(exc.value)
    # a runs:/ URI and a model directory are both served under the default name: two of them clash
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(ModelUriError, match="MLOPS_MODEL_NAME"):
        parse_sources(["runs:/abc/model", str(tmp_path)], "default-model")
    with pytest.raises(ModelUriError, match="no model URI"):
        parse_sources([], "default-model")
    with pytest.raises(ModelUriError, match="not a model URI"):
        parse_sources(["models:/churn@champion", "models:/"], "default-model")


def test_invocations_take_the_header_and_need_it_only_when_several_models_are_served():
    several = _app("models:/churn@champion", "models:/fraud@champion").models
    assert several.for_invocations({b"x-mlops-model": b"fraud"}).name == "fraud"
    with pytest.raises(ClientError) as missing:
        several.for_invocations({})
    assert missing.value.status == 400 and missing.value.field == "x-mlops-model"
    assert "churn, fraud" in missing.value.message
    with pytest.raises(ClientError) as unknown:
        several.for_invocations({b"x-mlops-model": b"ghost"})
    assert unknown.value.status == 404 and "ghost" in unknown.value.message and "churn, fraud" in unknown.value.message

    one = _app("models:/churn@champion").models
    assert one.for_invocations({}).name == "churn"  # as before: no header needed
    assert one.for_invocations({b"x-mlops-model": b"churn"}).name == "churn"
    with pytest.raises(ClientError, match="not served here"):
        one.for_invocations({b"x-mlops-model": b"fraud"})


def test_only_served_names_become_metric_labels():
    several = _app("models:/churn@champion", "models:/fraud@champion").models
    assert several.label("/invocations", {}, {b"x-mlops-model": b"fraud"}) == "fraud"
    assert several.label("/invocations", {}, {b"x-mlops-model": b"invented-by-a-caller"}) == ""
    assert several.label("/invocations", {}, {}) == ""
    assert several.label("/v2/models/{name}/infer", {"name": "churn"}, {}) == "churn"
    assert several.label("/v2/models/{name}/infer", {"name": "nope"}, {}) == ""
    one = _app("models:/churn@champion").models  # one model: every series is that model's, as the rules' join says
    assert one.label("/invocations", {}, {b"x-mlops-model": b"invented"}) == "churn"
    assert one.label("/health/ready", {}, {}) == one.label("/v2/models/{name}/infer", {"name": "nope"}, {}) == "churn"
    assert several.label("/health/ready", {}, {}) == ""


def test_each_model_has_its_own_routes_lifecycle_and_data_plane():
    app = _app("models:/churn@champion", "models:/fraud/2")
    churn, fraud = app.models.by_name["churn"], app.models.by_name["fraud"]
    assert churn.holder is not fraud.holder and churn.data is not fraud.data
    assert churn.data.batcher is not fraud.data.batcher
    assert churn.holder.source.follows_alias and not fraud.holder.source.follows_alias

    def route(method: str, path: str):
        return match(app.routes, app.v2_routes, app.model_invocations, method, path)

    assert route("POST", "/models/fraud/invocations") == (MODEL_INVOCATIONS_ROUTE, app.model_invocations,
                                                          {"name": "fraud"})  # fmt: skip
    assert route("POST", "/v2/models/churn/versions/3/infer")[2] == {"name": "churn", "version": "3"}
    assert route("POST", "/invocations")[0] == "/invocations"
    assert route("GET", "/models/fraud/invocations")[1] is None and known_path(app.routes, "/models/fraud/invocations")
    assert route("POST", "/models/fraud/extra/invocations")[1] is None
    assert not known_path(app.routes, "/models/fraud")


def test_the_openapi_document_lists_each_model_with_its_own_signature():
    from mlflow.types import ColSpec, Schema

    app = _app("models:/churn@champion", "models:/fraud@champion")
    churn = TabularSchema.from_mlflow(Schema([ColSpec("double", "tenure")]))
    fraud = TabularSchema.from_mlflow(Schema([ColSpec("double", "amount"), ColSpec("string", "merchant")]))
    document = openapi_document({"churn": churn, "fraud": fraud}, False, app.routes, app.v2_routes,
                                app.model_invocations)  # fmt: skip
    paths = document["paths"]
    for name, column in (("churn", "tenure"), ("fraud", "merchant")):
        for path in (f"/models/{name}/invocations", f"/v2/models/{name}/infer"):
            assert column in str(paths[path]["post"]["requestBody"]), path
        assert f"/v2/models/{name}/versions/{{version}}/ready" in paths
    assert "merchant" not in str(paths["/models/churn/invocations"])
    header = paths["/invocations"]["post"]["parameters"][0]
    assert header["name"] == "X-Mlops-Model" and header["required"] and header["schema"]["enum"] == ["churn", "fraud"]
    templated = paths["/v2/models/{name}/infer"]["post"]["parameters"][0]
    assert templated["schema"]["enum"] == ["churn", "fraud"]
    operation_ids = [op["operationId"] for methods in paths.values() for op in methods.values()]
    assert len(operation_ids) == len(set(operation_ids))

    one = _app("models:/churn@champion")
    single = openapi_document({"churn": churn}, True, one.routes, one.v2_routes, one.model_invocations)["paths"]
    assert "/models/churn/invocations" not in single  # one model: the routes as they were, with its signature
    assert "tenure" in str(single["/invocations"]["post"]["requestBody"])
    assert "tenure" in str(single["/v2/models/{name}/infer"]["post"]["requestBody"])
    assert not single["/invocations"]["post"]["parameters"][0]["required"]


def test_model_source_names_come_from_the_uri():
    assert ModelSource.parse("models:/churn@champion", "x").name == "churn"
    assert ModelSource.parse("runs:/abc/model", "x").name == "x"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--model-uri", "models:/churn@champion", "--model-uri", "models:/churn/1"], {}, "both name the model"),
        ([], {"MLOPS_SERVE_MODEL_URI": "models:/churn@champion,models:/churn/1"}, "both name the model 'churn'"),
        (["--model-uri", "models:/churn@champion", "--model-uri", "models:/only-a-name"], {}, "is not a model URI"),
        ([], {"MLOPS_SERVE_MODEL_URI": "models:/churn@champion,,"}, "empty entry"),
        (["--model-uri", "models:/churn@champion,models:/fraud@champion"], {}, "its own --model-uri"),
        ([], {"MLOPS_SERVE_MODEL_URI": ""}, "--model-uri is required"),
    ],
)
def test_the_uri_list_is_checked_before_anything_else(args, env, message):
    """Usage errors (exit 2) before keys, port or registry are looked at."""
    result = CliRunner().invoke(serve, args, env={"MLOPS_SERVE_API_KEYS": "k" * 20, "MLOPS_SERVE_MODEL_URI": None,
                                                  **env})  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output
