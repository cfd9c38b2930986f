"""Custom marshmallow fields for OpenAI's union-typed values (string-or-parts content, stop, tool_choice)."""
from marshmallow import ValidationError, fields

_USER_PARTS = {"text", "image_url", "input_audio", "file"}
_ASSISTANT_PARTS = {"text", "refusal"}
_TEXT_ONLY = {"text"}


def _check_part(part, allowed: set[str], i: int) -> None:
    if not isinstance(part, dict):
        raise ValidationError({i: ["Content part must be an object."]})
    kind = part.get("type")
    if not isinstance(kind, str) or kind not in allowed:      # a list or an object is no type (and unhashable)
        raise ValidationError({i: {"type": [f"Must be one of: {', '.join(sorted(allowed))}."]}})
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise ValidationError({i: {"text": ["Must be a string."]}})
    elif kind == "image_url":
        img = part.get("image_url")
        if not isinstance(img, dict) or not isinstance(img.get("url"), str) or not img["url"]:
            raise ValidationError({i: {"image_url": {"url": ["Missing data for required field."]}}})
        if img.get("detail") not in (None, "auto", "low", "high"):
            raise ValidationError({i: {"image_url": {"detail": ["Must be one of: auto, low, high."]}}})
    elif kind == "input_audio":
        audio = part.get("input_audio")
        if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
            raise ValidationError({i: {"input_audio": {"data": ["Missing data for required field."]}}})
        if not isinstance(audio.get("format"), str):
            raise ValidationError({i: {"input_audio": {"format": ["Missing data for required field."]}}})
    elif kind == "file":
        if not isinstance(part.get("file"), dict):
            raise ValidationError({i: {"file": ["Must be an object."]}})
    elif kind == "refusal":
        if not isinstance(part.get("refusal"), str):
            raise ValidationError({i: {"refusal": ["Must be a string."]}})


# The JSON Schema of each content part `_check_part` accepts (for /openapi.json).
_PART_SCHEMAS = {
    "text": {"text": {"type": "string"}},
    "image_url": {"image_url": {"type": "object", "required": ["url"], "properties": {
        "url": {"type": "string", "minLength": 1}, "detail": {"enum": ["auto", "low", "high", None]}}}},
    "input_audio": {"input_audio": {"type": "object", "required": ["data", "format"], "properties": {
        "data": {"type": "string"}, "format": {"type": "string"}}}},
    "file": {"file": {"type": "object"}},
    "refusal": {"refusal": {"type": "string"}},
}


def part_schema(kind: str) -> dict:
    return {"type": "object", "required": ["type", *_PART_SCHEMAS[kind]],
            "properties": {"type": {"const": kind}, **_PART_SCHEMAS[kind]}}


class MessageContent(fields.Field):
    """A string, a list of content parts (checked by shape, not deep), or null where the role allows it."""

    def __init__(self, parts: set[str] = _USER_PARTS, **kw):
        super().__init__(**kw)
        self.parts = parts

    def json_schema(self) -> dict:
        return {"oneOf": [{"type": "string"}, {"type": "array", "items": {
            "oneOf": [part_schema(kind) for kind in sorted(self.parts)]}}]}

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            for i, part in enumerate(value):
                _check_part(part, self.parts, i)
            return value
        raise ValidationError("Must be a string or an array of content parts.")


class StringOrStringList(fields.Field):
    def __init__(self, max_items: int = 4, **kw):
        super().__init__(**kw)
        self.max_items = max_items

    def json_schema(self) -> dict:
        return {"oneOf": [{"type": "string"},
                          {"type": "array", "items": {"type": "string"}, "maxItems": self.max_items}]}

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            if len(value) > self.max_items:
                raise ValidationError(f"At most {self.max_items} items.")
            return value
        raise ValidationError("Must be a string or an array of strings.")


class ToolChoice(fields.Field):
    def json_schema(self) -> dict:
        return {"oneOf": [
            {"enum": ["none", "auto", "required"]},
            {"type": "object", "required": ["type", "function"], "properties": {
                "type": {"const": "function"},
                "function": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}},
            {"type": "object", "required": ["type"], "properties": {"type": {"enum": ["allowed_tools", "custom"]}}}]}

    def _deserialize(self, value, attr, data, **kw):
        if value in ("none", "auto", "required"):
            return value
        if isinstance(value, dict):
            kind = value.get("type")
            if kind == "function":
                fn = value.get("function")
                if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                    return value
                raise ValidationError({"function": {"name": ["Missing data for required field."]}})
            if kind in ("allowed_tools", "custom"):
                return value
        raise ValidationError('Must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}.')


class AnyJson(fields.Field):
    """Any JSON value; used for fields we pass through but whose presence we accept."""

    def json_schema(self) -> dict:
        return {}

    def _deserialize(self, value, attr, data, **kw):
        return value


class FiniteNumber(fields.Float):
    """A JSON number (bool is not a number here)."""

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Not a valid number.")
        return super()._deserialize(value, attr, data, **kw)


class StrictBoolean(fields.Boolean):
    """true or false only: the body is passed on as the client sent it, so a "false" that marshmallow would read
    as False stays a truthy string (`stream: "false"` would stream)."""

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean: true or false.")
        return value


class StrictInteger(fields.Integer):
    def __init__(self, **kw):
        super().__init__(strict=True, **kw)

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kw)


TEXT_PARTS = _TEXT_ONLY
ASSISTANT_PARTS = _ASSISTANT_PARTS
USER_PARTS = _USER_PARTS
