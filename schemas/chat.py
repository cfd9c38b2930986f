"""The schema of a `POST /v1/chat/completions` body: every OpenAI field checked, unknown fields kept."""
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from schemas.errors import flatten_errors
from schemas.fields import (ASSISTANT_PARTS, TEXT_PARTS, USER_PARTS, AnyJson, FiniteNumber, MessageContent,
                            StrictBoolean, StrictInteger, StringOrStringList, ToolChoice)

# marshmallow formats a validator's error with str.format: the pattern's own braces go in through {regex}
_NAME = validate.Regexp(r"^[a-zA-Z0-9_-]{1,64}$", error="Must match {regex}.")
EFFORT_VALUES = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class FunctionCallSchema(_Open):
    name = fields.String(required=True)
    arguments = fields.String(required=True)


class ToolCallSchema(_Open):
    id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["function", "custom"]))
    function = fields.Nested(FunctionCallSchema)
    custom = fields.Dict()


class SystemMessageSchema(_Open):
    role = fields.String(required=True, validate=validate.OneOf(["system", "developer"]))
    content = MessageContent(parts=TEXT_PARTS, required=True)
    name = fields.String()


class UserMessageSchema(_Open):
    role = fields.String(required=True, validate=validate.OneOf(["user"]))
    content = MessageContent(parts=USER_PARTS, required=True)
    name = fields.String()


class AssistantMessageSchema(_Open):
    role = fields.String(required=True, validate=validate.OneOf(["assistant"]))
    content = MessageContent(parts=ASSISTANT_PARTS, allow_none=True, load_default=None)
    name = fields.String()
    refusal = fields.String(allow_none=True)
    tool_calls = fields.List(fields.Nested(ToolCallSchema))
    function_call = fields.Nested(FunctionCallSchema, allow_none=True)
    reasoning_content = fields.String(allow_none=True)

    @validates_schema
    def _content_or_calls(self, data, **kw):
        if data.get("content") is None and not data.get("tool_calls") and not data.get("function_call") \
                and not data.get("refusal"):
            raise ValidationError("An assistant message needs content or tool_calls.", "content")


class ToolMessageSchema(_Open):
    role = fields.String(required=True, validate=validate.OneOf(["tool"]))
    content = MessageContent(parts=TEXT_PARTS, required=True)
    tool_call_id = fields.String(required=True)


class FunctionMessageSchema(_Open):
    role = fields.String(required=True, validate=validate.OneOf(["function"]))
    content = fields.String(allow_none=True, required=True)
    name = fields.String(required=True)


_ROLE_SCHEMAS = {
    "system": SystemMessageSchema(), "developer": SystemMessageSchema(), "user": UserMessageSchema(),
    "assistant": AssistantMessageSchema(), "tool": ToolMessageSchema(), "function": FunctionMessageSchema(),
}


class MessageField(fields.Field):
    """One message, checked by the schema of its role."""
    schemas = _ROLE_SCHEMAS

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, dict):
            raise ValidationError("Each message must be an object.")
        role = value.get("role")
        schema = _ROLE_SCHEMAS.get(role) if isinstance(role, str) else None   # a list or an object is no role
        if schema is None:
            raise ValidationError({"role": [f"Must be one of: {', '.join(_ROLE_SCHEMAS)}."]})
        errors = schema.validate(value)
        if errors:
            raise ValidationError(errors)
        return value


class FunctionDefSchema(_Open):
    name = fields.String(required=True, validate=_NAME)
    description = fields.String()
    parameters = fields.Dict()
    strict = StrictBoolean(allow_none=True)


class ToolSchema(_Open):
    type = fields.String(required=True, validate=validate.OneOf(["function", "custom"]))
    function = fields.Nested(FunctionDefSchema)
    custom = fields.Dict()

    @validates_schema
    def _body(self, data, **kw):
        if data.get("type") == "function" and "function" not in data:
            raise ValidationError("Missing data for required field.", "function")


class JsonSchemaFormatSchema(_Open):
    name = fields.String(required=True, validate=_NAME)
    description = fields.String()
    schema = fields.Dict()
    strict = StrictBoolean(allow_none=True)


class ResponseFormatSchema(_Open):
    type = fields.String(required=True, validate=validate.OneOf(["text", "json_object", "json_schema"]))
    json_schema = fields.Nested(JsonSchemaFormatSchema)

    @validates_schema
    def _schema(self, data, **kw):
        if data.get("type") == "json_schema" and "json_schema" not in data:
            raise ValidationError("Missing data for required field.", "json_schema")


class StreamOptionsSchema(_Open):
    include_usage = StrictBoolean()
    include_obfuscation = StrictBoolean()


class ReasoningSchema(_Open):
    effort = fields.String(allow_none=True, validate=validate.OneOf(EFFORT_VALUES))


class ChatCompletionRequestSchema(_Open):
    model = fields.String(required=True, validate=validate.Length(min=1, max=256))
    messages = fields.List(MessageField(), required=True, validate=validate.Length(min=1))
    temperature = FiniteNumber(allow_none=True, validate=validate.Range(0, 2))
    top_p = FiniteNumber(allow_none=True, validate=validate.Range(0, 1))
    n = StrictInteger(allow_none=True, validate=validate.Range(1, 128))
    stop = StringOrStringList(allow_none=True)
    max_tokens = StrictInteger(allow_none=True, validate=validate.Range(min=1))
    max_completion_tokens = StrictInteger(allow_none=True, validate=validate.Range(min=1))
    presence_penalty = FiniteNumber(allow_none=True, validate=validate.Range(-2, 2))
    frequency_penalty = FiniteNumber(allow_none=True, validate=validate.Range(-2, 2))
    logit_bias = fields.Dict(keys=fields.String(), values=StrictInteger(validate=validate.Range(-100, 100)),
                             allow_none=True)
    logprobs = StrictBoolean(allow_none=True)
    top_logprobs = StrictInteger(allow_none=True, validate=validate.Range(0, 20))
    seed = StrictInteger(allow_none=True)
    user = fields.String()
    safety_identifier = fields.String(allow_none=True, validate=validate.Length(max=64))
    prompt_cache_key = fields.String(allow_none=True)
    stream = StrictBoolean(allow_none=True)
    stream_options = fields.Nested(StreamOptionsSchema, allow_none=True)
    tools = fields.List(fields.Nested(ToolSchema))
    tool_choice = ToolChoice(allow_none=True)
    parallel_tool_calls = StrictBoolean(allow_none=True)
    response_format = fields.Nested(ResponseFormatSchema, allow_none=True)
    reasoning_effort = fields.String(allow_none=True, validate=validate.OneOf(EFFORT_VALUES))
    reasoning = fields.Nested(ReasoningSchema, allow_none=True)
    verbosity = fields.String(allow_none=True, validate=validate.OneOf(["low", "medium", "high"]))
    modalities = fields.List(fields.String(validate=validate.OneOf(["text", "audio"])), allow_none=True)
    audio = fields.Dict(allow_none=True)
    prediction = fields.Dict(allow_none=True)
    metadata = fields.Dict(keys=fields.String(validate=validate.Length(max=64)),
                           values=fields.String(validate=validate.Length(max=512)), allow_none=True)
    store = StrictBoolean(allow_none=True)
    service_tier = fields.String(allow_none=True)
    web_search_options = fields.Dict(allow_none=True)
    functions = fields.List(fields.Dict())
    function_call = AnyJson()

    @validates_schema
    def _cross_field(self, data, **kw):
        if data.get("stream_options") is not None and not data.get("stream"):
            raise ValidationError("stream_options is only allowed when stream is true.", "stream_options")
        if data.get("top_logprobs") is not None and not data.get("logprobs"):
            raise ValidationError("top_logprobs requires logprobs to be true.", "top_logprobs")


_CHAT = ChatCompletionRequestSchema()


def validate_chat_request(body) -> tuple[str | None, str] | None:
    """None when the body is valid, else (param, message) of the first problem."""
    if not isinstance(body, dict):
        return None, "The request body must be a JSON object."
    errors = _CHAT.validate(body)
    if errors:
        return flatten_errors(errors)
    return None
