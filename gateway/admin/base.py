"""What the admin model views share: the request-scoped session, the guarded ModelView, catalog refresh, helpers."""
import json
from datetime import datetime
from decimal import Decimal

from flask import flash
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import scoped_session
from wtforms.validators import ValidationError

from gateway.admin.compat import ModelView, typefmt
from gateway.admin.login import AdminGuard
from gateway.services import services


class AdminSession(scoped_session):
    """One Session per request (thread or greenlet) from the app's sessionmaker, removed at the request's end.

    Flask-Admin 2 takes a `db` object with a `.session`; giving it that keeps it from warning about a bare session.
    """

    @property
    def session(self):
        return self


def _fmt_datetime(view, value, name):
    return value.strftime("%Y-%m-%d %H:%M:%S")


class AdminModelView(AdminGuard, ModelView):
    can_export = False
    can_view_details = True
    page_size = 50
    can_set_page_size = True
    column_type_formatters = typefmt.DEFAULT_FORMATTERS | {datetime: _fmt_datetime}
    column_type_formatters_detail = typefmt.DEFAULT_FORMATTERS | {
        datetime: _fmt_datetime, bool: lambda view, value, name: "yes" if value else "no"}

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, IntegrityError):      # a person's message, not the driver's SQL
            flash("Not saved: that name is taken (names, aliases and model ids are unique).", "error")
            return True
        return super().handle_view_exception(exc)


class CatalogView(AdminModelView):
    """Providers, models and routes: a change takes effect at once in this process (others on their refresh)."""

    def after_model_change(self, form, model, is_created):
        services().catalog.refresh()

    def after_model_delete(self, model):
        services().catalog.refresh()


def starts_with(column, term: str):
    """`column` equal to `term` or beginning with it, as a range on its index (never a LIKE or substring scan)."""
    return (column >= term) & (column < term + "\U0010ffff")


def json_object(form, field):
    """A WTForms validator: empty, or a JSON object."""
    raw = (field.data or "").strip()
    if not raw:
        return
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise ValidationError(f"Not valid JSON: {e}.") from None
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object, like {\"max_tokens\": 100}.")


def canonical_json(raw: str | None) -> str | None:
    """Stored JSON is compact with sorted keys (as `config import` writes it); empty is NULL."""
    raw = (raw or "").strip()
    if not raw:
        return None
    value = json.loads(raw)
    return json.dumps(value, sort_keys=True) if value else None


def pretty_json(raw: str | None) -> str:
    """Stored JSON indented for editing; what is not JSON (a rejected submission) is given back as it was."""
    try:
        return json.dumps(json.loads(raw), indent=2, sort_keys=True) if raw else ""
    except ValueError:
        return raw


def decimal_text(value) -> str:
    if value is None:
        return ""
    d = Decimal(str(value)).normalize()
    return format(d, "f")


def fmt_decimal(view, context, model, name):
    return decimal_text(getattr(model, name))


def fmt_json(view, context, model, name):
    raw = getattr(model, name)
    return Markup("<code>{}</code>").format(raw) if raw else ""
