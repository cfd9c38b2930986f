"""Gateway keys and teams: lists that stay cheap at hundreds of thousands of keys (no COUNT(*) pager; spend and
last use read for the page's rows only), create (the secret shown once, on a page sent `Cache-Control: no-store`,
never in a flash message or the session), rotate with a grace period, revoke, and edit limits, budget, allowed
models and expiry. Every change goes through gateway/keys.py's rules and is told to the key cache."""
import re
import time
from datetime import datetime, timezone
from decimal import Decimal

from flask import flash, g, make_response, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup
from sqlalchemy import func, select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from gateway.admin.base import AdminModelView, decimal_text, starts_with
from gateway.auth import hash_key
from gateway.keys import KeyChangeError, check, new_key_fields, revoke, rotate, spent_by_subject
from gateway.periods import PERIODS
from gateway.services import services
from models import ApiKey, RequestLog

_GLOB = re.compile(r"^[^\s,]+$")
GRACE_CHOICES = ((0, "none: the old secret stops now"), (3600, "1 hour"), (86400, "1 day"), (7 * 86400, "7 days"))


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
    if model.expires_at is not None and model.expires_at <= datetime.now(timezone.utc).replace(tzinfo=None):
        return Markup('<span class="badge badge-danger">expired</span>')
    return Markup('<span class="badge badge-success">active</span>')


def _fmt_limits(view, context, model, name):
    parts = []
    for label, value in (("rpm", model.rpm_limit), ("tpm", model.tpm_limit), ("req/month", model.request_quota)):
        if value is not None:
            parts.append(f"{value:,} {label}")
    return ", ".join(parts) or Markup('<span class="text-muted">default</span>')


def _fmt_budget(view, context, model, name):
    spent = (g.get("switchyard_spend") or {}).get(_subject(model), Decimal(0))
    text = f"${decimal_text(spent.quantize(Decimal('0.0001')))}"
    if model.budget_usd is None:
        return Markup('{} <span class="text-muted">spent this {}; no budget</span>').format(
            text, _period_word(model.budget_period))
    share = float(spent) / float(model.budget_usd) if model.budget_usd else 1.0
    cls = "danger" if share >= 1 else ("warning" if share >= 0.8 else "success")
    return Markup('<span class="text-{}">{}</span> of ${} <span class="text-muted">({})</span>').format(
        cls, text, decimal_text(model.budget_usd), model.budget_period)


def _period_word(period: str) -> str:
    return "period" if period == "total" else period


def _fmt_last_used(view, context, model, name):
    when = (g.get("switchyard_last_used") or {}).get(model.id)
    return when.strftime("%Y-%m-%d %H:%M") if when else Markup('<span class="text-muted">never</span>')


def _fmt_when(view, context, model, name):
    value = getattr(model, name)
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _subject(model) -> str:
    return f"{'key' if isinstance(model, ApiKey) else 'team'}:{model.id}"


def spend_of_page(session, rows) -> dict[str, Decimal]:
    """subject -> spend in its budget period, for the rows of one page (gateway/keys.py's rule)."""
    return spent_by_subject(session, {_subject(r): r.budget_period for r in rows}, time.time())


def last_used_of_page(session, ids: list[int]) -> dict:
    """key id -> its newest log row's time: one probe of the (key_id, created_at) index per key on the page."""
    if not ids:
        return {}
    newest = select(func.max(RequestLog.created_at)).where(RequestLog.key_id == ApiKey.id).scalar_subquery()
    return {r.id: r.last for r in session.execute(select(ApiKey.id, newest.label("last")).where(ApiKey.id.in_(ids)))}


def secret_page(view, title: str, key: ApiKey, secret: str, note: str):
    """The secret, once: in this answer only (never flashed into the session, never stored), and not cached."""
    resp = make_response(view.render("switchyard_admin/key_secret.html", title=title, key=key, secret=secret,
                                      note=note))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


class _LimitsForm:
    """Form rules the key and team views share: limits as gateway/keys.py checks them."""
    form_overrides = {"budget_period": SelectField}
    _limit_args = {
        "rpm_limit": {"label": "Requests per minute", "validators": [Optional(), NumberRange(min=1)],
                      "description": "Empty for the gateway's default."},
        "tpm_limit": {"label": "Tokens per minute", "validators": [Optional(), NumberRange(min=1)],
                      "description": "Prompt estimate plus output cap, reserved on admission; empty for none."},
        "budget_usd": {"label": "Budget (USD)", "validators": [Optional(), NumberRange(min=0)],
                       "description": "Past it, 429 quota_exceeded until the period ends; empty for none."},
        "budget_period": {"label": "Budget period", "choices": [SelectChoice(p) for p in PERIODS],
                          "description": "day, week and month are UTC calendar periods; total never resets."},
        "request_quota": {"label": "Requests per month", "validators": [Optional(), NumberRange(min=1)],
                          "description": "A monthly request quota (UTC calendar month); empty for none."},
    }

    def _check_limits(self, model):
        try:
            check(model)
        except KeyChangeError as e:
            raise ValidationError(str(e)) from None


class KeyView(_LimitsForm, AdminModelView):
    can_delete = False                 # a key's log rows keep pointing at it: revoke instead
    simple_list_pager = True           # no COUNT(*) over the keys table: Next / Previous only
    column_list = ("prefix", "name", "team", "state", "limits", "budget", "last_used", "expires_at", "created_at")
    column_details_list = ("id", "prefix", "name", "team", "state", "limits", "budget", "allowed_models",
                           "last_used", "expires_at", "previous_valid_until", "admin_scope", "created_at",
                           "updated_at", "revoked_at")
    column_labels = {"name": "Name", "prefix": "Prefix", "budget": "Budget / spend this period",
                     "allowed_models": "Allowed models", "created_at": "Created", "revoked_at": "Revoked",
                     "expires_at": "Expires", "last_used": "Last used", "previous_valid_until": "Old secret valid until",
                     "updated_at": "Updated"}
    column_formatters = {
        "prefix": lambda v, c, m, n: Markup('<code class="text-nowrap">{}…</code>').format(m.prefix),
        "team": lambda v, c, m, n: m.team.name if m.team else "",
        "state": _fmt_state, "limits": _fmt_limits, "budget": _fmt_budget, "last_used": _fmt_last_used,
        "expires_at": _fmt_when, "created_at": _fmt_when, "previous_valid_until": _fmt_when,
        "allowed_models": lambda v, c, m, n: m.allowed_models or "all",
    }
    column_formatters_detail = column_formatters
    column_sortable_list = ("name", "prefix", "expires_at", "created_at")
    column_searchable_list = ("prefix",)
    search_placeholder = lambda self: "Key prefix (sk-sy-…): exact or its beginning"  # noqa: E731
    column_filters = ("enabled", "revoked_at", "expires_at")
    column_default_sort = ("id", True)
    details_template = "switchyard_admin/key_details.html"
    form_columns = ("name", "team", "rpm_limit", "tpm_limit", "budget_usd", "budget_period", "request_quota",
                    "allowed_models", "expires_at", "enabled")
    form_overrides = {**_LimitsForm.form_overrides, "allowed_models": StringField}
    form_args = {
        "name": {"validators": [DataRequired(), Length(max=120)], "description": "Who or what the key is for."},
        "team": {"description": "The team whose shared limits and budget this key also passes; empty for none."},
        "allowed_models": {"label": "Allowed models", "validators": [_allowed_models, Length(max=2000)],
                           "description": "Comma-separated model names or globs (openai/*, smart); empty for all."},
        "expires_at": {"label": "Expires (UTC)", "validators": [Optional()],
                       "description": "Refused from then on (401 auth_invalid, saying it expired); empty for never."},
        "enabled": {"description": "Off refuses the key until it is turned on again (revoking is final)."},
    } | _LimitsForm._limit_args | {"budget_period": _LimitsForm._limit_args["budget_period"] | {"default": "month"}}
    form_widget_args = {"allowed_models": {"placeholder": "openai/gpt-4o-mini, anthropic/*, smart"}}
    form_ajax_refs = {"team": {"fields": ("name",), "page_size": 20}}   # a search box, never every team listed

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """A key prefix, exactly or its beginning: a range on the prefix index, not a substring scan."""
        term = search.strip().rstrip("…")
        if not term:
            return query, count_query, joins, count_joins
        cond = starts_with(ApiKey.prefix, term)
        return query.filter(cond), (count_query.filter(cond) if count_query is not None else None), joins, \
            count_joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        if execute:
            rows = list(rows)
            g.switchyard_spend = spend_of_page(self.session, rows)
            g.switchyard_last_used = last_used_of_page(self.session, [r.id for r in rows])
        return count, rows

    def get_one(self, id):
        row = super().get_one(id)
        if row is not None:
            g.switchyard_spend = spend_of_page(self.session, [row])
            g.switchyard_last_used = last_used_of_page(self.session, [row.id])
        return row

    def create_form(self, obj=None):
        form = super().create_form(obj)
        del form.enabled                   # a new key is enabled; disabling is an edit
        if request.method == "GET":
            form.budget_period.data = "month"      # as the CLI: a budget renews each calendar month
        return form

    def on_model_change(self, form, model, is_created):
        model.allowed_models = _normalise_globs(model.allowed_models)
        if is_created:
            secret, fields = new_key_fields()
            for column, value in fields.items():
                setattr(model, column, value)
            g.switchyard_new_key = secret          # shown once, on the answer to this POST; never stored
        self._check_limits(model)

    def after_model_change(self, form, model, is_created):
        services().keys.invalidate()               # limits or allowed models changed: no stale cache entry

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        answer = super().create_view()
        secret = g.pop("switchyard_new_key", None)
        if secret is None or request.method != "POST" or getattr(answer, "status_code", 200) != 302:
            return answer
        row = self.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
        return secret_page(self, "Key created", row, secret,
                           "Copy the secret now. Only its hash is stored: it cannot be shown again.")

    @expose("/rotate/", methods=("POST",))
    def rotate_view(self):
        row = self.session.get(ApiKey, request.form.get("id", type=int) or 0)
        grace = request.form.get("grace_seconds", type=int)
        if row is None:
            flash("No such key.", "error")
            return redirect(url_for(".index_view"))
        try:
            if grace is None:
                raise KeyChangeError("Choose how long the old secret keeps working.")
            secret = rotate(self.session, row, grace)
        except KeyChangeError as e:
            self.session.rollback()
            flash(f"Not rotated: {e}", "error")
            return redirect(url_for(".details_view", id=row.id))
        self.session.commit()
        services().keys.invalidate()
        until = row.previous_valid_until.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
        note = ("The old secret stopped working now." if grace == 0 else
                f"The old secret keeps working until {until}; move clients to the new one before then.")
        return secret_page(self, "Key rotated", row, secret, note)

    @action("revoke", "Revoke", "Revoke the selected keys? Clients using them are refused from now on.")
    def action_revoke(self, ids):
        revoked = revoke(self.session, [int(i) for i in ids if str(i).isdigit()])
        self.session.commit()
        services().keys.invalidate()
        flash(f"Revoked {len(revoked)} key(s): {', '.join(r.prefix + '…' for r in revoked) or 'none'}.", "success")

    def render(self, template, **kwargs):
        kwargs.setdefault("grace_choices", GRACE_CHOICES)
        return super().render(template, **kwargs)


class TeamView(_LimitsForm, AdminModelView):
    """Teams: shared limits, a shared budget per period and a monthly quota, which every key of the team passes."""
    can_delete = False                 # its keys and log rows point at it
    simple_list_pager = True
    column_list = ("name", "limits", "budget", "keys", "created_at")
    column_details_list = ("id", "name", "limits", "budget", "keys", "created_at", "updated_at")
    column_labels = {"budget": "Budget / spend this period", "keys": "Active keys", "created_at": "Created",
                     "updated_at": "Updated"}
    column_formatters = {"limits": _fmt_limits, "budget": _fmt_budget, "created_at": _fmt_when,
                         "updated_at": _fmt_when,
                         "keys": lambda v, c, m, n: f"{(g.get('switchyard_team_keys') or {}).get(m.id, 0):,}"}
    column_formatters_detail = column_formatters
    column_sortable_list = ("name", "created_at")
    column_searchable_list = ("name",)
    column_default_sort = "name"
    form_columns = ("name", "rpm_limit", "tpm_limit", "budget_usd", "budget_period", "request_quota")
    form_args = {"name": {"validators": [DataRequired(), Length(max=120)]}} | _LimitsForm._limit_args

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        if execute:
            rows = list(rows)
            self._page_figures(rows)
        return count, rows

    def get_one(self, id):
        row = super().get_one(id)
        if row is not None:
            self._page_figures([row])
        return row

    def _page_figures(self, rows) -> None:
        g.switchyard_spend = spend_of_page(self.session, rows)
        ids = [r.id for r in rows]
        g.switchyard_team_keys = dict(self.session.execute(
            select(ApiKey.team_id, func.count()).where(ApiKey.team_id.in_(ids), ApiKey.revoked_at.is_(None))
            .group_by(ApiKey.team_id)).all()) if ids else {}

    def on_model_change(self, form, model, is_created):
        model.name = model.name.strip()
        self._check_limits(model)

    def after_model_change(self, form, model, is_created):
        services().keys.invalidate()
