"""schemathesis against the gateway's own /openapi.json, fetched from the live server: every operation with
generated parameters and bodies (stateless), then chains of calls along the description's links (create a response
-> get it -> list its input items -> delete it). Checks: not a server error, the status code, the content type, the
headers and the body conform to the description. Bounded: a fixed number of examples per operation, no deadline."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# a model the gateway serves, some of the time: else nearly every generated body stops at model_not_supported
MODELS = st.sampled_from([None, "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"])
EXAMPLES = 25
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, stateful_step_count=6,
                   suppress_health_check=list(HealthCheck))
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def api(live):
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


def _with_model(case, model) -> None:
    if model is not None and isinstance(case.body, dict) and case.operation.method.upper() == "POST":
        case.body["model"] = model


def _operations(api):
    return [result.ok() for result in api.get_all_operations()]


def test_the_description_loads_with_every_operation(api):
    labels = {op.label for op in _operations(api)}
    assert {"POST /v1/chat/completions", "POST /v1/responses", "GET /v1/responses/{response_id}",
            "DELETE /v1/responses/{response_id}", "GET /v1/responses/{response_id}/input_items", "GET /v1/models",
            "GET /v1/models/{model}", "GET /v1/usage", "GET /v1/usage/summary", "GET /healthz", "GET /readyz",
            "GET /metrics"} == labels          # (schemathesis leaves out the description itself)


@pytest.mark.parametrize("label", ["POST /v1/chat/completions", "POST /v1/responses", "GET /v1/responses/{response_id}",
                                   "DELETE /v1/responses/{response_id}", "GET /v1/responses/{response_id}/input_items",
                                   "GET /v1/models", "GET /v1/models/{model}", "GET /v1/usage", "GET /v1/usage/summary",
                                   "GET /healthz", "GET /readyz", "GET /metrics"])
def test_each_operation_conforms(api, live, api_key, label):
    operation = next(op for op in _operations(api) if op.label == label)
    statuses = []

    @BOUNDED
    @given(case=operation.as_strategy(), model=MODELS)
    def run(case, model):
        _with_model(case, model)
        headers = {"Authorization": f"Bearer {api_key}"}
        response = case.call(base_url=live.url, headers=headers, timeout=TIMEOUT_S)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)
    run()
    assert statuses and all(s < 500 for s in statuses)


def test_stateful_links(api, live, api_key):
    """createResponse -> getResponse / listInputItems / deleteResponse, following the links with the id answered."""
    steps: list[tuple[str, int]] = []

    class Machine(api.include(tag="responses").as_state_machine()):
        def before_call(self, case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {api_key}"}
            if case.operation.label == "POST /v1/responses" and isinstance(case.body, dict):
                case.body["model"] = "openai/gpt-4o-mini"
                case.body.pop("previous_response_id", None)

        def get_call_kwargs(self, case):
            return {"base_url": live.url, "headers": {"Authorization": f"Bearer {api_key}"}, "timeout": TIMEOUT_S}

        def after_call(self, response, case):
            super().after_call(response, case)
            steps.append((case.operation.label, response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"),
                                   transport_kwargs=kwargs or None, recorder=self.recorder)

    Machine.run(settings=settings(BOUNDED, max_examples=15))
    assert all(status < 500 for _, status in steps)
    followed = {label for label, status in steps if status == 200}
    assert "POST /v1/responses" in followed
    assert followed & {"GET /v1/responses/{response_id}", "GET /v1/responses/{response_id}/input_items",
                       "DELETE /v1/responses/{response_id}"}, steps
