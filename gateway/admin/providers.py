"""Upstream providers: wire protocol, base URL, and a write-only API key stored encrypted (never shown again)."""
from flask import request
from flask_admin import expose
from markupsafe import Markup
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Length, Optional, Regexp, ValidationError

from gateway.admin.base import CatalogView
from gateway.provider_check import check, default_model
from gateway.services import services
from models import Provider

TYPES = [SelectChoice("openai", "openai (and every OpenAI-compatible server)"), SelectChoice("anthropic"),
         SelectChoice("gemini")]
RESPONSES = [SelectChoice("", "default (native for the provider named openai, else translate)"),
             SelectChoice("native", "native: pass /v1/responses to the provider's own Responses API"),
             SelectChoice("translate", "translate: serve /v1/responses on the provider's chat endpoint")]
NAME_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"       # as the configuration file's schema


def _fmt_key(view, context, model, name):
    if model.api_key_encrypted:
        return Markup('<span class="badge badge-success">stored (encrypted)</span>')
    if model.api_key_env:
        return Markup('<span class="badge badge-info">from ${}</span>').format(model.api_key_env)
    return Markup('<span class="badge badge-light">none</span>')


class ProviderView(CatalogView):
    list_template = "switchyard_admin/provider_list.html"
    column_list = ("name", "type", "base_url", "api_key_env", "api_key", "responses", "enabled", "updated_at")
    column_details_list = ("id", "name", "type", "base_url", "api_key_env", "api_key", "responses", "enabled",
                           "created_at", "updated_at")
    column_labels = {"base_url": "Base URL", "api_key_env": "API key env var", "api_key": "API key",
                     "updated_at": "Updated", "created_at": "Created"}
    column_formatters = {"api_key": _fmt_key}
    column_formatters_detail = column_formatters
    column_sortable_list = ("name", "type", "base_url", "enabled", "updated_at")
    column_searchable_list = ("name", "base_url")
    column_filters = ("type", "enabled")
    column_default_sort = "name"
    form_columns = ("name", "type", "base_url", "api_key_env", "api_key", "clear_api_key", "responses", "enabled")
    form_excluded_columns = ("api_key_encrypted",)
    form_extra_fields = {
        "api_key": PasswordField("API key", validators=[Optional(), Length(max=4000)],
                                 description="Write-only: stored encrypted. Leave empty to keep the stored one."),
        "clear_api_key": BooleanField("Remove the stored API key",
                                      description="Then the key comes from the env var (or the built-in one)."),
    }
    form_overrides = {"type": SelectField, "responses": SelectField}
    form_args = {
        "name": {"validators": [DataRequired(), Regexp(NAME_RE, message="Lowercase letters, digits, '-' or '_'.")],
                 "description": "The prefix clients use, as in openai/gpt-4o-mini."},
        "type": {"choices": TYPES, "label": "Wire protocol"},
        "responses": {"choices": RESPONSES, "label": "/v1/responses"},
        "base_url": {"label": "Base URL", "validators": [Optional(), URL(require_tld=False), Length(max=500)],
                     "description": "Empty for the built-in provider of that name."},
        "api_key_env": {"label": "API key env var", "validators": [Optional(), Length(max=120),
                                                                   Regexp(r"^[A-Za-z_][A-Za-z0-9_]*$")],
                        "description": "Read the key from this environment variable instead of storing it."},
    }
    form_widget_args = {"api_key": {"autocomplete": "new-password"}}

    def on_model_change(self, form, model, is_created):
        model.base_url = (model.base_url or "").strip() or None
        model.api_key_env = (model.api_key_env or "").strip() or None
        model.responses = model.responses or None
        if model.responses == "native" and model.type != "openai":
            raise ValidationError("Only a provider of type openai speaks the Responses API; choose translate.")
        new_key = (form.api_key.data or "").strip()
        if form.clear_api_key.data:
            model.api_key_encrypted = None
        elif new_key:
            model.api_key_encrypted = services().box.encrypt(new_key)
        if model.api_key_encrypted and model.api_key_env:
            raise ValidationError("Give a stored API key or an env var, not both: remove the stored key, or "
                                  "leave the env var empty.")

    def render(self, template, **kwargs):
        if template == self.list_template:
            kwargs.update(self._serving())
        return super().render(template, **kwargs)

    def _serving(self) -> dict:
        """What serves now, from the catalog: the providers configured here and the built-in ones whose key comes
        from the environment (not rows of this table, so the list alone would hide them)."""
        snap = services().catalog.snapshot
        stored = set(self.session.scalars(select(Provider.name)))
        serving = []
        for p in sorted(snap.providers.values(), key=lambda p: p.name):
            serving.append({"name": p.name, "type": p.type, "base_url": p.base_url, "enabled": p.enabled,
                            "has_key": bool(p.api_key), "source": "configured" if p.name in stored else "built in",
                            "model": default_model(snap, p.name) or ""})
        return {"serving": serving}

    @expose("/test/", methods=("POST",))
    def test_view(self):
        """One cheap call with the key the gateway holds (gateway/provider_check.py); status, latency, message."""
        svc = services()
        name = (request.form.get("name") or "").strip()
        result = check(svc.catalog.snapshot, svc.pipeline.transport, name, request.form.get("model"))
        return self.render("switchyard_admin/provider_test.html", result=result)
