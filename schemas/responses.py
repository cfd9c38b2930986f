"""The schema of a `POST /v1/responses` body, field by field at the top level (unknown fields kept: a native target
takes the provider's own). The items of `input`, the tools and the formats are checked where they are translated
(gateway/responses/), since a native target takes shapes no translation knows."""
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from schemas.errors import flatten_errors
from schemas.fields import AnyJson, FiniteNumber, StrictBoolean, StrictInteger


class _Union(fields.Field):
    """A value of one of the given JSON shapes, described by `json_schema`."""

    def __init__(self, kinds: tuple[type, ...], schema: dict, message: str, **kw):
        super().__init__(**kw)
        self.kinds, self.schema, self.message = kinds, schema, message

    def json_schema(self) -> dict:
        return self.schema

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool) or not isinstance(value, self.kinds):
            raise ValidationError(self.message)
        return value


def _input() -> _Union:
    return _Union((str, list), {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
                  "Must be a string or a list of items.", allow_none=True)


def _tool_choice() -> _Union:
    return _Union((str, dict), {"oneOf": [{"enum": ["none", "auto", "required"]}, {"type": "object"}]},
                  'Must be "none", "auto", "required" or an object.', allow_none=True)


class ResponsesRequestSchema(Schema):
    class Meta:
        unknown = INCLUDE

    model = fields.String(required=True, validate=validate.Length(min=1, max=256))
    input = _input()
    instructions = fields.String(allow_none=True)
    previous_response_id = fields.String(allow_none=True, validate=validate.Length(min=1))
    store = StrictBoolean(allow_none=True)
    stream = StrictBoolean(allow_none=True)
    stream_options = fields.Dict(allow_none=True)
    include = fields.List(fields.String(), allow_none=True)
    tools = fields.List(fields.Dict(), allow_none=True)
    tool_choice = _tool_choice()
    parallel_tool_calls = StrictBoolean(allow_none=True)
    text = fields.Dict(allow_none=True)
    reasoning = fields.Dict(allow_none=True)
    temperature = FiniteNumber(allow_none=True, validate=validate.Range(0, 2))
    top_p = FiniteNumber(allow_none=True, validate=validate.Range(0, 1))
    max_output_tokens = StrictInteger(allow_none=True, validate=validate.Range(min=1))
    metadata = fields.Dict(keys=fields.String(validate=validate.Length(max=64)),
                           values=fields.String(validate=validate.Length(max=512)), allow_none=True)
    user = fields.String(allow_none=True)
    safety_identifier = fields.String(allow_none=True, validate=validate.Length(max=64))
    prompt_cache_key = fields.String(allow_none=True)
    service_tier = fields.String(allow_none=True)
    background = StrictBoolean(allow_none=True)
    truncation = fields.String(allow_none=True)
    prompt = AnyJson()
    conversation = AnyJson()


_RESPONSES = ResponsesRequestSchema()


def validate_responses_request(body) -> tuple[str | None, str] | None:
    """None when the body's top-level fields are valid, else (param, message) of the first problem."""
    if not isinstance(body, dict):
        return None, "The request body must be a JSON object."
    errors = _RESPONSES.validate(body)
    if errors:
        return flatten_errors(errors)
    return None
