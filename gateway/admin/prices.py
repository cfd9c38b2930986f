"""Models and prices: a changed price is a new row of the model's price history (each log row records the row that
priced it); the model's page shows that history, schedules a future price and retires the model with a
replacement. Every price change goes through the one rule, gateway/prices.py's record_prices."""
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from flask import flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import ValidationError
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from gateway.admin.base import (CatalogView, canonical_json, decimal_text, fmt_decimal, fmt_json, json_object,
                                pretty_json)
from gateway import config_file
from gateway.prices import PriceError, record_prices
from gateway.services import services
from models import ModelPrice, PriceRow
from models.price_row import RATE_COLUMNS

PRICE_FIELDS = ModelPrice.PRICE_FIELDS
_PRICE_ARGS = {"validators": [Optional(), NumberRange(min=0)], "description": "USD per million tokens."}


def replacement_problem(slug: str, replacement: str | None) -> str | None:
    """A retired model's replacement must be a model or route that serves: not itself, not retired."""
    if not replacement:
        return None
    snap = services().catalog.snapshot
    if replacement == slug:
        return "A model cannot replace itself."
    if replacement in snap.routes:
        return None
    found = snap.models.get(replacement)
    if found is None:
        return f"The replacement '{replacement}' is neither a model of the catalog nor a route."
    if found.retired:
        return f"The replacement '{replacement}' is retired itself."
    return None


MAX_PRICE_FILE = 1024 * 1024


class ModelPriceView(CatalogView):
    details_template = "switchyard_admin/model_details.html"
    list_template = "switchyard_admin/model_list.html"
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
        problem = replacement_problem(model.slug, model.replacement) if model.retired else None
        if problem:
            raise ValidationError(problem)
        new = {f: getattr(model, f) for f in PRICE_FIELDS}
        record_prices(self.session, model, new, [], datetime.now(timezone.utc).replace(tzinfo=None))

    @expose("/details/")
    def details_view(self):
        row_id = request.args.get("id", type=int)
        model = self.session.get(ModelPrice, row_id) if row_id is not None else None
        history = []
        if model is not None:
            history = self.session.scalars(select(PriceRow).where(PriceRow.slug == model.slug)
                                           .order_by(PriceRow.effective_from.desc())).all()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        in_force = next((r.id for r in history if r.effective_from <= now), None)
        snap = services().catalog.snapshot
        self._template_args.update(
            history=history, in_force=in_force, now=now, rate_columns=RATE_COLUMNS,
            replacements=sorted([s for s, m in snap.models.items() if not m.retired] + list(snap.routes)))
        return super().details_view()

    def _posted_model(self) -> ModelPrice | None:
        model = self.session.get(ModelPrice, request.form.get("id", type=int) or 0)
        if model is None:
            flash("No such model.", "error")
        return model

    @expose("/schedule/", methods=("POST",))
    def schedule_view(self):
        """A price from a future time on: a new row of the history (the one rule), in force when its time comes."""
        model = self._posted_model()
        if model is None:
            return redirect(url_for(".index_view"))
        back = redirect(url_for(".details_view", id=model.id))
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        try:
            when = datetime.fromisoformat((request.form.get("effective_from") or "").strip())
        except ValueError:
            flash("Not scheduled: 'Effective from' is a date and time (UTC), like 2027-01-01T00:00.", "error")
            return back
        when = when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when
        if when <= now:
            flash(f"Not scheduled: {when:%Y-%m-%d %H:%M} UTC is not in the future; a price now is an edit of the "
                  f"model.", "error")
            return back
        entry = {"effective_from": when}
        for column in RATE_COLUMNS:
            raw = (request.form.get(column) or "").strip()
            if not raw:
                continue
            try:
                value = Decimal(raw)
            except InvalidOperation:
                value = None
            if value is None or not value.is_finite() or value < 0:
                flash(f"Not scheduled: {column} is USD per million tokens, 0 or more; got {raw!r}.", "error")
                return back
            entry[column] = value
        if not any(c in entry for c in RATE_COLUMNS):
            flash("Not scheduled: give at least one rate.", "error")
            return back
        try:
            record_prices(self.session, model, None, [entry], now)
        except PriceError as e:
            self.session.rollback()
            flash(f"Not scheduled: {e}", "error")
            return back
        self.session.commit()
        services().catalog.refresh()
        flash(f"{model.slug}: a new price from {when:%Y-%m-%d %H:%M} UTC is scheduled.", "success")
        return back

    @expose("/retire/", methods=("POST",))
    def retire_view(self):
        """Retire a model (requests for it get 410 model_retired naming the replacement), or bring it back."""
        model = self._posted_model()
        if model is None:
            return redirect(url_for(".index_view"))
        if request.form.get("restore"):
            model.retired, model.replacement = False, None
            message = f"{model.slug} serves again."
        else:
            replacement = (request.form.get("replacement") or "").strip() or None
            problem = replacement_problem(model.slug, replacement)
            if problem:
                flash(f"Not retired: {problem}", "error")
                return redirect(url_for(".details_view", id=model.id))
            model.retired, model.replacement = True, replacement
            message = f"{model.slug} is retired" + (f"; clients are told to use {replacement}." if replacement
                                                     else ".")
        self.session.commit()
        services().catalog.refresh()
        flash(message, "success")
        return redirect(url_for(".details_view", id=model.id))

    @expose("/import/", methods=("GET", "POST"))
    def import_view(self):
        """A price file: the configuration file's `models:` section alone, checked by the same rules as
        `config import` (every problem at once, by line), applied all or nothing; "Check" is a dry run."""
        if request.method == "GET":
            return self.render("switchyard_admin/price_import.html", problems=[], changes=None, dry_run=False)
        upload = request.files.get("file")
        text = upload.read(MAX_PRICE_FILE + 1).decode("utf-8", "replace") if upload and upload.filename else \
            (request.form.get("text") or "")
        dry_run = request.form.get("mode") != "apply"
        problems, changes = self._import(text, dry_run)
        return self.render("switchyard_admin/price_import.html", problems=problems, changes=changes,
                           dry_run=dry_run, text=text if len(text) <= 200_000 else "")

    def _import(self, text: str, dry_run: bool) -> tuple[list[str], list | None]:
        if len(text.encode()) > MAX_PRICE_FILE:
            return [f"The file is larger than {MAX_PRICE_FILE // 1024} KiB."], None
        if not text.strip():
            return ["Choose a file, or paste its text."], None
        known = config_file.known_in(self.session)
        try:
            parsed = config_file.parse(text, known=known)
        except config_file.ConfigFileError as e:
            return list(e.problems), None
        others = sorted(parsed["_sections"] - {"models"})
        if others or "models" not in parsed["_sections"]:
            return [f"A price file lists models only (a `models:` section); this one has "
                    f"{', '.join(others) or 'no models section'}. Use `flask config import` for the rest."], None
        try:
            done = config_file.apply(self.session, parsed, services().box)
        except config_file.ConfigFileError as e:
            self.session.rollback()
            return list(e.problems), None
        if dry_run:
            self.session.rollback()
        else:
            self.session.commit()
            services().catalog.refresh()
        return [], [(name, what) for section, name, what in done.changes if section == "models"]
