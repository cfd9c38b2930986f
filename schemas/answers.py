"""The shapes of what the gateway answers (chat completion, response, models, usage, health, the error envelope),
as marshmallow schemas: /openapi.json is generated from them (gateway/api/openapi.py). Open like the requests
(unknown fields allowed: a provider's extra fields pass through), strict about what every answer carries."""
from marshmallow import INCLUDE, Schema, fields, validate


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


def _const(value: str, **kw) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf([value]), **kw)


class ErrorSchema(_Open):
    """The error object; `type` and `code` are one of the error table's codes (the enum is added where the table
    is known, gateway/api/openapi.py)."""
    message = fields.String(required=True, metadata={"description": "What went wrong, naming the field at fault."})
    type = fields.String(required=True, metadata={"description": "The error code (OpenAI SDKs read `type`)."})
    code = fields.String(required=True)
    param = fields.String(required=True, allow_none=True,
                          metadata={"description": "The request field at fault (`messages[0].role`), or null."})


class ErrorResponseSchema(Schema):
    error = fields.Nested(ErrorSchema, required=True)


class ToolCallOutSchema(_Open):
    id = fields.String(required=True)
    type = fields.String(required=True)
    function = fields.Dict()


class ChatMessageOutSchema(_Open):
    role = _const("assistant")
    content = fields.String(allow_none=True)
    refusal = fields.String(allow_none=True)
    tool_calls = fields.List(fields.Nested(ToolCallOutSchema))
    reasoning_content = fields.String(allow_none=True)


class ChoiceSchema(_Open):
    index = fields.Integer(required=True)
    message = fields.Nested(ChatMessageOutSchema, required=True)
    finish_reason = fields.String(required=True, allow_none=True)
    logprobs = fields.Dict(allow_none=True)


class ChatUsageSchema(_Open):
    prompt_tokens = fields.Integer(required=True)
    completion_tokens = fields.Integer(required=True)
    total_tokens = fields.Integer(required=True)
    prompt_tokens_details = fields.Dict(allow_none=True)
    completion_tokens_details = fields.Dict(allow_none=True)


class ChatCompletionSchema(_Open):
    id = fields.String(required=True)
    object = _const("chat.completion")
    created = fields.Integer(required=True)
    model = fields.String(required=True, metadata={"description": "The model name the client sent."})
    choices = fields.List(fields.Nested(ChoiceSchema), required=True)
    usage = fields.Nested(ChatUsageSchema, allow_none=True)
    system_fingerprint = fields.String(allow_none=True)
    service_tier = fields.String(allow_none=True)


class OutputItemSchema(_Open):
    id = fields.String(required=True)
    type = fields.String(required=True)


class ResponseUsageSchema(_Open):
    input_tokens = fields.Integer(required=True)
    output_tokens = fields.Integer(required=True)
    total_tokens = fields.Integer(required=True)


class ResponseObjectSchema(_Open):
    id = fields.String(required=True, validate=validate.Regexp(r"^resp_"))
    object = _const("response")
    created_at = fields.Float(required=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"]))
    model = fields.String(required=True, metadata={"description": "The model name the client sent."})
    output = fields.List(fields.Nested(OutputItemSchema), required=True)
    usage = fields.Nested(ResponseUsageSchema, allow_none=True)
    error = fields.Dict(allow_none=True)
    previous_response_id = fields.String(allow_none=True)


class DeletedResponseSchema(_Open):
    id = fields.String(required=True)
    object = _const("response")
    deleted = fields.Boolean(required=True)


class InputItemSchema(_Open):
    id = fields.String(required=True)
    type = fields.String(required=True)


class InputItemListSchema(_Open):
    object = _const("list")
    data = fields.List(fields.Nested(InputItemSchema), required=True)
    has_more = fields.Boolean(required=True)
    first_id = fields.String(required=True)
    last_id = fields.String(required=True)


class ModelSchema(_Open):
    id = fields.String(required=True)
    object = _const("model")
    created = fields.Integer(required=True)
    owned_by = fields.String(required=True, metadata={"description": "The provider, or `route:<provider>` for an "
                                                                      "alias."})


class ModelListSchema(_Open):
    object = _const("list")
    data = fields.List(fields.Nested(ModelSchema), required=True)


class UsageRowSchema(Schema):
    timestamp = fields.String(required=True)
    request_id = fields.String(required=True)
    endpoint = fields.String(required=True)
    model = fields.String(required=True, allow_none=True)
    provider = fields.String(required=True, allow_none=True)
    input_tokens = fields.Integer(required=True, allow_none=True)
    output_tokens = fields.Integer(required=True, allow_none=True)
    total_tokens = fields.Integer(required=True, allow_none=True)
    cached_tokens = fields.Integer(required=True, allow_none=True)
    reasoning_tokens = fields.Integer(required=True, allow_none=True)
    cost_usd = fields.String(required=True, allow_none=True, metadata={"description": "USD, a decimal string."})
    latency_ms = fields.Float(required=True)
    status_code = fields.Integer(required=True, allow_none=True)
    error_code = fields.String(required=True, allow_none=True)


class PageMetaSchema(Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)


class UsageListSchema(Schema):
    object = _const("list")
    data = fields.List(fields.Nested(UsageRowSchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)


class UsageEntrySchema(Schema):
    group = fields.String(required=True, allow_none=True)
    requests = fields.Integer(required=True)
    errors = fields.Integer(required=True)
    input_tokens = fields.Integer(required=True)
    output_tokens = fields.Integer(required=True)
    cached_tokens = fields.Integer(required=True)
    reasoning_tokens = fields.Integer(required=True)
    cost_usd = fields.String(required=True, metadata={"description": "USD, a decimal string."})
    unpriced_requests = fields.Integer(required=True)
    latency_ms_mean = fields.Float(required=True, allow_none=True)
    latency_ms_p50_at_most = fields.Float(required=True, allow_none=True)
    latency_ms_p95_at_most = fields.Float(required=True, allow_none=True)


class UsageSummarySchema(Schema):
    object = _const("usage.summary")
    from_ = fields.String(required=True, data_key="from")
    to = fields.String(required=True)
    group_by = fields.String(required=True, validate=validate.OneOf(["day", "model", "provider"]))
    data = fields.List(fields.Nested(UsageEntrySchema), required=True)
    total = fields.Nested(UsageEntrySchema, required=True)


class HealthSchema(Schema):
    status = _const("ok")


class ReadySchema(Schema):
    status = _const("ready")
