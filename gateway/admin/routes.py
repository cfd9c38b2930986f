"""Routes: an alias with its ordered targets (edited inline, picked from the catalog), retries, timeout and
switches; each target checked by the same rule as the configuration file's import (gateway/config_rules.py); the
list shows each target's health: serving, cooling down (the circuit breaker), keyless or unknown."""
import time

from flask import g, request
from flask_admin.model.form import InlineFormAdmin
from markupsafe import Markup, escape
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from gateway.admin.base import CatalogView, canonical_json, json_object
from gateway.config_rules import target_problems
from gateway.routing import split_effort
from gateway.services import services
from models import RouteTarget

ALIAS_RE = r"^[a-z0-9][a-z0-9_-]{0,62}$"          # as the configuration file's schema
ALIAS_MESSAGE = "Must be 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit."


class TargetInline(InlineFormAdmin):
    form_label = "Target"
    form_columns = ("id", "position", "model", "priority", "weight", "overrides")
    form_overrides = {"overrides": TextAreaField}
    form_args = {
        "position": {"validators": [Optional(), NumberRange(min=0)], "description": "Order in the chain; 0 first."},
        "model": {"validators": [DataRequired(), Length(max=200), Regexp(r"^\S+$", message="No spaces.")],
                  "description": "provider/model[:effort]: pick from the catalog or type one"},
        "priority": {"validators": [Optional(), NumberRange(0, 1000)],
                     "description": "Equal priorities share traffic by weight; empty: the position."},
        "weight": {"default": 1, "validators": [InputRequired(), NumberRange(0, 1000)]},
        "overrides": {"validators": [json_object],
                      "description": 'JSON object of body parameters for this target, e.g. {"max_tokens": 512}.'},
    }
    form_widget_args = {"overrides": {"rows": 2, "style": "font-family: monospace"},
                        "model": {"list": "catalog-models", "autocomplete": "off"}}

    def on_model_change(self, form, model, is_created):
        model.model = model.model.strip()
        model.overrides = canonical_json(model.overrides)
        if model.weight is None:
            model.weight = 1


def _health(target_model: str) -> tuple[str, str]:
    """(badge class, words) for one target as this worker would serve it now."""
    snap = services().catalog.snapshot
    if "switchyard_cooling" not in g:
        g.switchyard_cooling = services().pipeline.breaker.cooling_targets()
    base, _ = split_effort(target_model)
    provider_name, _, rest = base.partition("/")
    provider = snap.providers.get(provider_name)
    if provider is None:
        return "danger", "unknown provider"
    if not provider.enabled:
        return "secondary", "provider disabled"
    if not provider.api_key:
        return "warning", "no key"
    model = snap.models.get(base)
    if model is not None and model.retired:
        return "secondary", "retired"
    label = f"{provider.name}/{model.upstream if model else rest}"
    until = g.switchyard_cooling.get(label)
    if until is not None:
        return "danger", f"cooling {max(0, until - time.time()):.0f} s"
    return "success", "ok"


def _fmt_health(view, context, model, name):
    parts = []
    for t in sorted(model.targets, key=lambda t: t.position):
        cls, words = _health(t.model)
        parts.append(Markup('<span class="badge badge-{}" title="{}">{}</span>').format(cls, t.model, words))
    return Markup(" ").join(parts)


def _fmt_targets(view, context, model, name):
    parts = []
    for t in sorted(model.targets, key=lambda t: t.position):
        part = escape(t.model)
        if t.priority is not None:
            part += Markup(" <small class=\"text-muted\">p{}</small>").format(t.priority)
        if t.weight != 1:
            part += Markup(" <small class=\"text-muted\">×{}</small>").format(t.weight)
        parts.append(part)
    return Markup(" → ").join(parts)


class RouteView(CatalogView):
    column_list = ("alias", "targets", "health", "retries", "timeout_ms", "enabled", "drop_unsupported",
                   "description", "updated_at")
    column_details_list = ("id",) + column_list
    column_labels = {"timeout_ms": "Timeout (ms)", "drop_unsupported": "Drop unsupported params",
                     "updated_at": "Updated", "health": "Health (per target, now)"}
    create_template = edit_template = "switchyard_admin/route_form.html"
    column_formatters = {"targets": _fmt_targets, "health": _fmt_health}
    column_formatters_detail = column_formatters
    column_sortable_list = ("alias", "retries", "timeout_ms", "enabled", "updated_at")
    column_searchable_list = ("alias", "description")
    column_filters = ("enabled", "drop_unsupported")
    column_default_sort = "alias"
    form_columns = ("alias", "description", "retries", "timeout_ms", "enabled", "drop_unsupported", "targets")
    form_overrides = {"alias": StringField}
    form_args = {
        "alias": {"validators": [DataRequired(), Regexp(ALIAS_RE, message=ALIAS_MESSAGE)],
                  "description": "The name clients send as `model`."},
        "retries": {"default": 1, "validators": [InputRequired(), NumberRange(0, 5)],
                    "description": "Retries per target on retryable errors (0-5)."},
        "timeout_ms": {"label": "Timeout (ms)", "default": 30000,
                       "validators": [InputRequired(), NumberRange(1000, 120000)],
                       "description": "Per provider call, 1,000-120,000."},
        "enabled": {"default": True, "description": "Off pauses the route: 404 route_disabled."},
        "drop_unsupported": {"label": "Drop unsupported params",
                             "description": "Drop parameters a target cannot honour instead of answering 400."},
    }
    inline_models = (TargetInline(RouteTarget),)

    def on_model_change(self, form, model, is_created):
        model.description = (model.description or "").strip() or None
        for target in [t for t in model.targets if t in self.session.deleted]:
            model.targets.remove(target)        # ticked "Delete?": the inline form deleted it but left it listed
        if not model.targets:
            raise ValidationError("A route needs at least one target.")
        snap = services().catalog.snapshot
        providers = {p.name: p.type for p in snap.providers.values()}
        models = {slug: m.capabilities for slug, m in snap.models.items()}
        problems = [p for t in model.targets for p in target_problems(t.model, providers, models)]
        if problems:           # the configuration file's rule, every problem at once
            raise ValidationError("Not saved: " + "; ".join(problems) + ".")
        ordered = sorted(enumerate(model.targets),
                         key=lambda it: (it[1].position if it[1].position is not None else 10**9, it[0]))
        for pos, (_, target) in enumerate(ordered):      # positions 0..n-1 in the chosen order
            target.position = pos

    def render(self, template, **kwargs):
        if template == self.create_template:
            kwargs["form_kind"] = "edit" if request.endpoint.endswith("edit_view") else "create"
            snap = services().catalog.snapshot
            kwargs["catalog_models"] = sorted(slug for slug, m in snap.models.items() if not m.retired)
        return super().render(template, **kwargs)
