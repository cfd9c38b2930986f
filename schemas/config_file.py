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
    base_url = fields.String(allow_none=True)    # checked by gateway/config_rules.py: http(s), a host, no secrets
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


_HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Must be HH:MM (UTC, 24 hours).")


class _Rates(_Strict):
    """USD per million tokens by usage field (the 5-minute cache write; reasoning and audio where they differ)."""
    input_per_mtok = fields.Decimal(**_PRICE)
    output_per_mtok = fields.Decimal(**_PRICE)
    cached_input_per_mtok = fields.Decimal(**_PRICE)
    cache_write_per_mtok = fields.Decimal(**_PRICE)
    cache_write_1h_per_mtok = fields.Decimal(**_PRICE)
    reasoning_per_mtok = fields.Decimal(**_PRICE)
    audio_input_per_mtok = fields.Decimal(**_PRICE)


class TierEntry(_Rates):
    """Above this many prompt tokens, the whole request bills at these rates."""
    above = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))


class WindowEntry(_Rates):
    """UTC weekdays (0 = Monday) and a time range in which these rates apply (to <= from: past midnight)."""
    days = fields.List(fields.Integer(strict=True, validate=validate.Range(0, 6)),
                       load_default=lambda: [0, 1, 2, 3, 4, 5, 6], validate=validate.Length(min=1))
    start = fields.String(required=True, data_key="from", validate=_HHMM)
    end = fields.String(required=True, data_key="to", validate=_HHMM)


class _Rules(_Rates):
    tiers = fields.List(fields.Nested(TierEntry), load_default=list)
    windows = fields.List(fields.Nested(WindowEntry), load_default=list)


class PriceEntry(_Rules):
    """A dated price: in force from `effective_from` (a UTC date or date and time) until the next one."""
    effective_from = fields.DateTime(required=True, format="iso")


class ModelEntry(_Rules):
    id = fields.String(required=True, validate=validate.Regexp(r"^[^/\s]+/\S+$", error="Must be provider/model."))
    upstream = fields.String(load_default=None, allow_none=True)
    prices = fields.List(fields.Nested(PriceEntry), load_default=list)   # dated prices, past and scheduled
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
