"""GET /openapi.json: the OpenAPI 3.1 description of every public endpoint, built once per process with apispec from
the marshmallow schemas (schemas/), with the error envelope, every code of the error table, the bearer scheme and
the headers the answers carry; and the list of what the gateway serves (the 501 of the OpenAI paths it does not)."""
import functools

import orjson
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response

from gateway import exceptions as exc
from schemas import answers
from schemas.chat import ChatCompletionRequestSchema, MessageField
from schemas.responses import ResponsesRequestSchema

bp = Blueprint("openapi", __name__)

BEARER = [{"bearerAuth": []}]
JSON = "application/json"


def error_codes() -> list[str]:
    """Every code of the error table (gateway/exceptions.py), `internal` included."""
    return sorted({cls.code for cls in vars(exc).values()
                   if isinstance(cls, type) and issubclass(cls, exc.GatewayError)})


def _header(description: str, schema: dict | None = None, required: bool = False) -> dict:
    return {"description": description, "required": required, "schema": schema or {"type": "string"}}


_DECIMAL = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}
HEADERS = {
    "x-request-id": _header("The client's own X-Request-Id when it sent a safe one (1 to 128 of A-Z a-z 0-9 . _ : -), "
                            "else ours (req_...).", {"type": "string", "pattern": r"^[A-Za-z0-9._:-]{1,128}$"},
                            required=True),
    "x-gateway-provider": _header("The provider that served it (or the last one tried)."),
    "x-gateway-model": _header("The upstream model id that answered."),
    "x-gateway-fallback-used": _header("true when a target other than the route's first served it.",
                                       {"type": "string", "enum": ["true", "false"]}),
    "x-gateway-attempts": _header("Every attempt, as provider/model:code, comma-separated."),
    "x-gateway-latency-ms": _header("Milliseconds spent in provider calls (a stream: until its first chunk).",
                                    _DECIMAL),
    "x-gateway-overhead-ms": _header("The gateway's own milliseconds: arrival to answer minus the provider calls.",
                                     _DECIMAL, required=True),
    "x-gateway-cost-usd": _header("Cost in USD, six decimals; absent when the model has no price.", _DECIMAL),
    **{f"x-ratelimit-{kind}-{what}": _header(text.format(what=what), schema)
       for what in ("requests", "tokens")
       for kind, text, schema in (("limit", "The tightest {what} limit of the key or its team.", {"type": "string",
                                                                                               "pattern": "^[0-9]+$"}),
                                  ("remaining", "What is left of it after this request.", {"type": "string",
                                                                                          "pattern": "^[0-9]+$"}),
                                  ("reset", "When it is whole again (a duration such as 6m0s or 1.5s).", None))},
    "retry-after": _header("Seconds to wait before retrying (on 429 and 503).", {"type": "string",
                                                                                  "pattern": "^[0-9]+$"}),
    "x-should-retry": _header("false on quota_exceeded (retrying will not help until the period resets) and on "
                              "provider_auth (the provider refuses the gateway's own key until an operator fixes it).",
                              {"type": "string", "enum": ["false"]}),
}
_ANSWER_HEADERS = [h for h in HEADERS if h not in ("retry-after", "x-should-retry")]
_LIMIT_HEADERS = [h for h in HEADERS if h.startswith("x-ratelimit-")]
_ERROR_TEXT = {400: "Invalid request: the message and `param` name the field.", 401: "Missing or invalid key.",
               403: "This key may not use this model or do that.", 404: "Not found (or a paused route).",
               410: "The model is retired.", 413: "The request body is larger than SWITCHYARD_MAX_BODY_BYTES.",
               429: "A rate limit, token limit, budget or quota is full.", 500: "A gateway bug.",
               501: "Not served by this gateway.", 502: "The provider failed or refused the gateway's credentials.",
               503: "Not ready, or shutting down.", 504: "The provider did not answer in time."}


def _headers(names: list[str]) -> dict:
    return {n: {"$ref": f"#/components/headers/{n}"} for n in names}


def _errors(statuses: tuple[int, ...], recorded: bool) -> dict:
    out = {}
    for status in statuses:
        names = (["x-request-id", "x-gateway-overhead-ms", "x-gateway-provider", "x-gateway-model",
                  "x-gateway-fallback-used", "x-gateway-attempts", "x-gateway-latency-ms"] if recorded else [])
        names += _LIMIT_HEADERS
        if status in (429, 503):
            names.append("retry-after")
        if status in (429, 502):
            names.append("x-should-retry")
        headers = _headers(names)
        out[str(status)] = {"description": _ERROR_TEXT[status], "headers": headers,
                            "content": {JSON: {"schema": "ErrorResponse"}}}
    return out


def _ok(schema: str, description: str, headers: dict | None = None, links: dict | None = None) -> dict:
    out = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        out["headers"] = headers
    if links:
        out["links"] = links
    return out


_PROXIED = (400, 401, 403, 404, 410, 413, 429, 500, 501, 502, 503, 504)
_READS = (401, 404, 429, 500, 503)
# one server-sent event (stream: true): `data` is a JSON chunk or event, or [DONE] at the end of a chat stream
_SSE = {"text/event-stream": {"schema": {"type": "object", "required": ["data"], "properties": {
    "event": {"type": "string"}, "data": {"type": "string"}, "id": {"type": "string"}}}}}
_ID = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"},
       "description": "A response id (resp_...) of the calling key."}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"},
            "description": description}


_USAGE_SCOPE = [_query("from", "First UTC day, YYYY-MM-DD (default: 29 days before `to`).", {"type": "string",
                                                                                              "format": "date"}),
                _query("to", "Last UTC day, YYYY-MM-DD (default: today).", {"type": "string", "format": "date"}),
                _query("key", "Another key's id (a key with the admin scope only).", {"type": "integer"}),
                _query("team", "A team's id (a key with the admin scope only).", {"type": "integer"})]
_ON_RESPONSE = {name: {"operationId": op, "parameters": {"response_id": "$response.body#/id"}}
                for name, op in (("GetResponse", "getResponse"), ("ListInputItems", "listInputItems"),
                                 ("DeleteResponse", "deleteResponse"))}


def _paths() -> dict:
    answered = _headers(_ANSWER_HEADERS)
    limited = _headers(_LIMIT_HEADERS)
    chat_ok = _ok("ChatCompletion", "The completion (or, with stream: true, its chunks as server-sent events).",
                  answered)
    chat_ok["content"].update(_SSE)
    created = _ok("Response", "The response (or, with stream: true, its events).", answered, _ON_RESPONSE)
    created["content"].update(_SSE)
    return {
        "/v1/chat/completions": {"post": {
            "operationId": "createChatCompletion", "summary": "OpenAI Chat Completions, for every provider.",
            "tags": ["chat"], "security": BEARER,
            "requestBody": {"required": True, "content": {JSON: {"schema": "ChatCompletionRequest"}}},
            "responses": {"200": chat_ok, **_errors(_PROXIED, True)}}},
        "/v1/responses": {"post": {
            "operationId": "createResponse", "summary": "OpenAI Responses API, for every provider.",
            "tags": ["responses"], "security": BEARER,
            "requestBody": {"required": True, "content": {JSON: {"schema": "ResponsesRequest"}}},
            "responses": {"200": created, **_errors(_PROXIED, True)}}},
        "/v1/responses/{response_id}": {
            "parameters": [_ID],
            "get": {"operationId": "getResponse", "summary": "A stored response.", "tags": ["responses"],
                    "security": BEARER,
                    "responses": {"200": _ok("Response", "The stored response.", limited,
                                             {k: v for k, v in _ON_RESPONSE.items() if k != "GetResponse"}),
                                  **_errors(_READS, False)}},
            "delete": {"operationId": "deleteResponse", "summary": "Delete a stored response.", "tags": ["responses"],
                       "security": BEARER,
                       "responses": {"200": _ok("DeletedResponse", "Deleted.", limited), **_errors(_READS, False)}}},
        "/v1/responses/{response_id}/input_items": {"get": {
            "operationId": "listInputItems", "summary": "The input items of a stored response, page by page.",
            "tags": ["responses"], "security": BEARER,
            "parameters": [_ID, _query("order", "asc or desc (default).", {"type": "string", "enum": ["asc", "desc"]}),
                           _query("after", "An item id: the page starts after it."),
                           _query("limit", "Items per page, 1 to 100 (default 20).",
                                  {"type": "integer", "minimum": 1, "maximum": 100})],
            "responses": {"200": _ok("InputItemList", "One page of items.", limited),
                          **_errors((400,) + _READS, False)}}},
        "/v1/models": {"get": {
            "operationId": "listModels", "summary": "Aliases and the models this gateway can serve now.",
            "tags": ["models"], "security": BEARER,
            "responses": {"200": _ok("ModelList", "The models.", limited), **_errors((401, 429, 500, 503), False)}}},
        "/v1/models/{model}": {"get": {
            "operationId": "getModel", "summary": "One alias or model (its id may hold slashes: provider/model).",
            "tags": ["models"], "security": BEARER,
            "parameters": [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _ok("Model", "The model.", limited), **_errors(_READS, False)}}},
        "/v1/usage": {"get": {
            "operationId": "listUsage", "summary": "The calling key's request rows, newest first.",
            "tags": ["usage"], "security": BEARER,
            "parameters": _USAGE_SCOPE + [
                _query("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "maximum": 10**6}),
                _query("per_page", "Rows per page, 1 to 500 (default 25).",
                       {"type": "integer", "minimum": 1, "maximum": 500})],
            "responses": {"200": _ok("UsageList", "One page of rows.", limited),
                          **_errors((400, 401, 403, 429, 500, 503), False)}}},
        "/v1/usage/summary": {"get": {
            "operationId": "getUsageSummary", "summary": "Usage per day, model or provider, from the daily rollups.",
            "tags": ["usage"], "security": BEARER,
            "parameters": _USAGE_SCOPE + [_query("group_by", "day (default), model or provider.",
                                                 {"type": "string", "enum": ["day", "model", "provider"]})],
            "responses": {"200": _ok("UsageSummary", "The summary.", limited),
                          **_errors((400, 401, 403, 429, 500, 503), False)}}},
        "/healthz": {"get": {
            "operationId": "healthz", "summary": "Liveness: the process answers.", "tags": ["health"], "security": [],
            "responses": {"200": _ok("Health", "Alive.")}}},
        "/readyz": {"get": {
            "operationId": "readyz", "summary": "Readiness: the database, Redis and the log writer.",
            "tags": ["health"], "security": [],
            "responses": {"200": _ok("Ready", "Ready."), **_errors((503,), False)}}},
        "/metrics": {"get": {
            "operationId": "metrics", "summary": "Prometheus metrics, summed over workers.", "tags": ["health"],
            "security": [{}, {"metricsToken": []}],
            "responses": {"200": {"description": "Prometheus text format.",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          "401": {"description": "SWITCHYARD_METRICS_TOKEN is set and this is not it.",
                                  "content": {JSON: {"schema": "ErrorResponse"}}}}}},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This description.", "tags": ["health"], "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1.",
                                  "content": {JSON: {"schema": {"type": "object"}}}}}}},
    }


def _custom_fields(self, field, **kwargs) -> dict:
    """Our union-typed fields (schemas/fields.py) describe themselves; a message is one of its role's schemas."""
    if isinstance(field, MessageField):
        refs = {type(s): self.resolve_nested_schema(s) for s in field.schemas.values()}
        return {"oneOf": list(refs.values())}
    describe = getattr(field, "json_schema", None)
    if describe is None:
        return {}
    out = describe()
    if field.allow_none and out:
        out = {"oneOf": [*out["oneOf"], {"type": "null"}]} if "oneOf" in out else {"oneOf": [out, {"type": "null"}]}
    return out


_COMPONENTS = {
    "ChatCompletionRequest": ChatCompletionRequestSchema, "ResponsesRequest": ResponsesRequestSchema,
    "ChatCompletion": answers.ChatCompletionSchema, "Response": answers.ResponseObjectSchema,
    "DeletedResponse": answers.DeletedResponseSchema, "InputItemList": answers.InputItemListSchema,
    "Model": answers.ModelSchema, "ModelList": answers.ModelListSchema, "UsageList": answers.UsageListSchema,
    "UsageSummary": answers.UsageSummarySchema, "Health": answers.HealthSchema, "Ready": answers.ReadySchema,
    "ErrorResponse": answers.ErrorResponseSchema,
}


@functools.lru_cache(maxsize=1)
def spec() -> dict:
    plugin = MarshmallowPlugin()
    api = APISpec(
        title="Switchyard", version="1", openapi_version="3.1.0", plugins=[plugin],
        info={"description": "A self-hosted OpenAI-compatible LLM gateway. Every error is the OpenAI envelope "
                             "{\"error\": {\"message\", \"type\", \"param\", \"code\"}} with `type` == `code`."})
    plugin.converter.add_attribute_function(_custom_fields)
    api.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                  "description": "A gateway key (sk-sy-...)."})
    api.components.security_scheme("metricsToken", {"type": "http", "scheme": "bearer",
                                                     "description": "SWITCHYARD_METRICS_TOKEN, when it is set."})
    for name, header in HEADERS.items():
        api.components.header(name, header)
    api.components.schema("Error", schema=answers.ErrorSchema)
    for name, schema in _COMPONENTS.items():
        api.components.schema(name, schema=schema)
    for path, operations in _paths().items():
        params = operations.pop("parameters", None)
        api.path(path=path, operations=operations, parameters=params)
    out = api.to_dict()
    error = out["components"]["schemas"]["Error"]["properties"]
    error["type"]["enum"] = error["code"]["enum"] = error_codes()
    return out


def served() -> list[str]:
    """What the gateway serves under /v1, as `METHOD path` (from the description, so the two never disagree)."""
    return [f"{'/'.join(m.upper() for m in ops if m != 'parameters')} {path}"
            for path, ops in spec()["paths"].items() if path.startswith("/v1/")]


def not_served_message(method: str, path: str) -> str:
    return (f"{method} {path} is part of the OpenAI API that this gateway does not serve. It serves: "
            f"{', '.join(served())} (described at /openapi.json).")


@functools.lru_cache(maxsize=1)
def _spec_bytes() -> bytes:
    return orjson.dumps(spec())


@bp.get("/openapi.json")
def openapi_json():
    return Response(_spec_bytes(), mimetype="application/json")
