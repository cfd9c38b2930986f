"""Models and prices: a changed price is a new row of the model's price history (each log row records the row that
priced it)."""
from datetime import datetime, timezone
from decimal import Decimal

from wtforms import TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from gateway.admin.base import (CatalogView, canonical_json, decimal_text, fmt_decimal, fmt_json, json_object,
                                pretty_json)
from gateway.prices import record_prices
from models import ModelPrice

PRICE_FIELDS = ModelPrice.PRICE_FIELDS
_PRICE_ARGS = {"validators": [Optional(), NumberRange(min=0)], "description": "USD per million tokens."}


class ModelPriceView(CatalogView):
    column_list = ("slug", "provider", "upstream", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
                   "cache_write_per_mtok", "context_window", "max_output", "price_version", "prices_as_of",
                   "retired", "enabled")
    column_details_list = ("id", "slug", "provider", "upstream") + PRICE_FIELDS + (
        "price_version", "prices_as_of", "context_window", "max_output", "capabilities", "drop_unsupported",
        "retired", "replacement", "enabled", "updated_at")
    column_labels = {"slug": "Model", "input_per_mtok": "Input $/Mtok", "output_per_mtok": "Output $/Mtok",
                     "cached_input_per_mtok": "Cached input $/Mtok", "cache_write_per_mtok": "Cache write $/Mtok",
                     "context_window": "Context", "max_output": "Max output", "price_version": "Price v",
                     "prices_as_of": "Prices as of", "drop_unsupported": "Drop unsupported params"}
    column_formatters = {name: fmt_decimal for name in PRICE_FIELDS} | {"capabilities": fmt_json}
    column_formatters_detail = column_formatters
    column_searchable_list = ("slug", "upstream")
    column_filters = ("provider", "enabled", "retired", "price_version")
    column_default_sort = "slug"
    form_columns = ("slug", "upstream") + PRICE_FIELDS + (
        "prices_as_of", "context_window", "max_output", "capabilities", "drop_unsupported", "retired",
        "replacement", "enabled")
    form_overrides = {"capabilities": TextAreaField}
    form_args = {
        "slug": {"label": "Model (provider/model)", "validators": [
            DataRequired(), Length(max=200), Regexp(r"^[^/\s]+/\S+$", message="Must be provider/model.")],
            "description": "As clients name it; the part before the '/' is the provider."},
        "upstream": {"validators": [Optional(), Length(max=200)],
                     "description": "The provider's own model id; empty for the part after the '/'."},
        "context_window": {"validators": [Optional(), NumberRange(min=1)]},
        "max_output": {"validators": [Optional(), NumberRange(min=1)]},
        "capabilities": {"validators": [json_object],
                         "description": 'A JSON object, e.g. {"reasoning": true, "efforts": ["low", "high"]}.'},
        "prices_as_of": {"validators": [Optional(), Length(max=32)], "description": "When the prices were taken."},
        "replacement": {"validators": [Optional(), Length(max=200)],
                        "description": "For a retired model: the model to use instead."},
    } | {name: dict(_PRICE_ARGS) for name in PRICE_FIELDS}
    form_widget_args = {"capabilities": {"rows": 6, "style": "font-family: monospace"}}

    def create_form(self, obj=None):
        return self._optional_upstream(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._optional_upstream(super().edit_form(obj))

    @staticmethod
    def _optional_upstream(form):
        """NOT NULL in the table, but an empty field means "from the slug": no required marker on it."""
        form.upstream.validators = [v for v in form.upstream.validators
                                    if not isinstance(v, (InputRequired, DataRequired))]
        form.upstream.flags.required = False
        return form

    def on_form_prefill(self, form, id):
        form.capabilities.data = pretty_json(form.capabilities.data)
        for name in PRICE_FIELDS:                # 0.15, not the column's 0.150000
            if form[name].data is not None:
                form[name].data = Decimal(decimal_text(form[name].data))

    def on_model_change(self, form, model, is_created):
        model.slug = model.slug.strip()
        model.provider, _, rest = model.slug.partition("/")
        model.upstream = (model.upstream or "").strip() or rest
        model.capabilities = canonical_json(model.capabilities)
        model.prices_as_of = (model.prices_as_of or "").strip() or None
        model.replacement = (model.replacement or "").strip() or None
        # the one rule for a price change (gateway/prices.py): a changed price is a new row of the history,
        # effective now, and the model's columns and price_version follow the row in force
        new = {f: getattr(model, f) for f in PRICE_FIELDS}
        record_prices(self.session, model, new, [], datetime.now(timezone.utc).replace(tzinfo=None))
