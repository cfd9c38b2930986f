"""The schema of the declarative YAML configuration: providers, models (with prices) and routes."""
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

_ALIAS = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,62}$",
                         error="Must be 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit.")
_NAME = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$", error="Must be lowercase letters, digits, '-' or '_'.")
_PRICE = {"allow_none": True, "validate": validate.Range(min=0), "as_string": False}


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ProviderEntry(_Strict):
    name = fields.String(required=True, validate=_NAME)
    type = fields.String(required=True, validate=validate.OneOf(["openai", "anthropic", "gemini"]))
    base_url = fields.Url(require_tld=False, schemes={"http", "https"}, allow_none=True)
    api_key_env = fields.String(allow_none=True)
    api_key = fields.String(allow_none=True, load_only=True)
    enabled = fields.Boolean(load_default=True)
    # /v1/responses: native (the provider's own Responses API) or translate (onto chat); absent: the default
    responses = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["native", "translate"]))

    @validates_schema
    def _one_key(self, data, **kw):
        if data.get("api_key") and data.get("api_key_env"):
            raise ValidationError("Give api_key or api_key_env, not both.", "api_key")
        if data.get("responses") == "native" and data.get("type") != "openai":
            raise ValidationError("Only a provider of type openai speaks the Responses API; use translate.",
                                  "responses")


class ModelEntry(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[^/\s]+/\S+$", error="Must be provider/model."))
    upstream = fields.String(load_default=None, allow_none=True)
    input_per_mtok = fields.Decimal(**_PRICE)
    output_per_mtok = fields.Decimal(**_PRICE)
    cached_input_per_mtok = fields.Decimal(**_PRICE)
    cache_write_per_mtok = fields.Decimal(**_PRICE)
    context_window = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    max_output = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    capabilities = fields.Dict(allow_none=True)
    prices_as_of = fields.String(allow_none=True)
    drop_unsupported = fields.Boolean(load_default=False)
    retired = fields.Boolean(load_default=False)
    replacement = fields.String(allow_none=True)
    enabled = fields.Boolean(load_default=True)


class TargetEntry(_Strict):
    model = fields.String(required=True)
    priority = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(0, 1000))
    weight = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=0, max=1000))
    overrides = fields.Dict(load_default=dict)


class TargetField(fields.Field):
    """A target is a model string, or an object with model, weight and overrides."""

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, str) and value:
            return {"model": value, "priority": None, "weight": 1, "overrides": {}}
        if isinstance(value, dict):
            return TargetEntry().load(value)
        raise ValidationError("Must be a model name or an object with 'model'.")


class RouteEntry(_Strict):
    alias = fields.String(required=True, validate=_ALIAS)
    targets = fields.List(TargetField(), required=True, validate=validate.Length(min=1))
    retries = fields.Integer(strict=True, load_default=1, validate=validate.Range(0, 5))
    timeout_ms = fields.Integer(strict=True, load_default=30000, validate=validate.Range(1000, 120000))
    description = fields.String(allow_none=True)
    enabled = fields.Boolean(load_default=True)
    drop_unsupported = fields.Boolean(load_default=False)


class ConfigFile(_Strict):
    providers = fields.List(fields.Nested(ProviderEntry), load_default=list)
    models = fields.List(fields.Nested(ModelEntry), load_default=list)
    routes = fields.List(fields.Nested(RouteEntry), load_default=list)
