"""Gateway keys: list (never the hash), create (the secret is shown once), edit limits, revoke."""
import re

from flask import flash, g
from flask_admin.actions import action
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from gateway.admin.base import AdminModelView, fmt_decimal
from gateway.keys import new_key_fields, revoke
from gateway.services import services

_GLOB = re.compile(r"^[^\s,]+$")


def _allowed_models(form, field):
    for glob in (field.data or "").split(","):
        glob = glob.strip()
        if glob and not _GLOB.match(glob):
            raise ValidationError(f"'{glob}' is not a model name or glob (no spaces inside one).")


def _normalise_globs(raw: str | None) -> str | None:
    globs = [g.strip() for g in (raw or "").split(",") if g.strip()]
    return ", ".join(globs) or None


def _fmt_state(view, context, model, name):
    if model.revoked_at is not None:
        return Markup('<span class="badge badge-secondary">revoked</span>')
    if not model.enabled:
        return Markup('<span class="badge badge-warning">disabled</span>')
    return Markup('<span class="badge badge-success">active</span>')


class KeyView(AdminModelView):
    can_delete = False                 # a key's log rows keep pointing at it: revoke instead
    column_list = ("id", "name", "prefix", "state", "rpm_limit", "budget_usd", "allowed_models",
                   "created_at", "revoked_at")
    column_details_list = column_list
    column_labels = {"name": "Name", "prefix": "Prefix", "rpm_limit": "RPM limit", "budget_usd": "Budget (USD)",
                     "allowed_models": "Allowed models", "created_at": "Created", "revoked_at": "Revoked"}
    column_formatters = {
        "prefix": lambda v, c, m, n: Markup("<code>{}…</code>").format(m.prefix),
        "state": _fmt_state,
        "budget_usd": fmt_decimal,
        "allowed_models": lambda v, c, m, n: m.allowed_models or "all",
    }
    column_formatters_detail = column_formatters
    column_sortable_list = ("id", "name", "prefix", "enabled", "rpm_limit", "budget_usd", "created_at", "revoked_at")
    column_searchable_list = ("name", "prefix")
    column_filters = ("enabled", "created_at", "revoked_at")
    column_default_sort = ("id", True)
    form_columns = ("name", "rpm_limit", "budget_usd", "allowed_models", "enabled")
    form_overrides = {"allowed_models": StringField}
    form_args = {
        "name": {"validators": [DataRequired(), Length(max=120)], "description": "Who or what the key is for."},
        "rpm_limit": {"label": "RPM limit", "validators": [Optional(), NumberRange(min=1)],
                      "description": "Requests per minute; empty for the gateway's default."},
        "budget_usd": {"label": "Budget (USD)", "validators": [Optional(), NumberRange(min=0)],
                       "description": "Spend past which the key gets 429 quota_exceeded; empty for none."},
        "allowed_models": {"label": "Allowed models", "validators": [_allowed_models, Length(max=2000)],
                           "description": "Comma-separated model names or globs (openai/*, smart); empty for all."},
    }
    form_widget_args = {"allowed_models": {"placeholder": "openai/gpt-4o-mini, anthropic/*, smart"}}

    def create_form(self, obj=None):
        form = super().create_form(obj)
        del form.enabled                   # a new key is enabled; disabling is an edit
        return form

    def on_model_change(self, form, model, is_created):
        model.allowed_models = _normalise_globs(model.allowed_models)
        if is_created:
            secret, fields = new_key_fields()
            for column, value in fields.items():
                setattr(model, column, value)
            g.switchyard_new_key = secret          # shown once, after the commit; never stored

    def after_model_change(self, form, model, is_created):
        services().keys.invalidate()               # limits or allowed models changed: no stale cache entry
        secret = g.pop("switchyard_new_key", None)
        if is_created and secret:
            flash(Markup('Key <b>{}</b> created. Copy its secret now; it is not stored and will not be shown '
                         'again: <code id="new-key-secret" class="user-select-all">{}</code>')
                  .format(model.name, secret), "success")

    @action("revoke", "Revoke", "Revoke the selected keys? Clients using them are refused from now on.")
    def action_revoke(self, ids):
        revoked = revoke(self.session, [int(i) for i in ids if str(i).isdigit()])
        self.session.commit()
        services().keys.invalidate()
        flash(f"Revoked {len(revoked)} key(s): {', '.join(r.prefix + '…' for r in revoked) or 'none'}.", "success")
