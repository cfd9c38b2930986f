"""Request logs: read-only, newest first, filtered by key, model, provider, status, error, stream and date."""
from flask import g, request
from flask_admin import expose
from markupsafe import Markup
from sqlalchemy import select

from gateway.admin.base import AdminModelView, decimal_text
from gateway.admin.compat import filters
from gateway.services import services
from models import ApiKey, RequestAttempt, RequestLog


def _key_labels(session) -> dict[int, tuple[str, str]]:
    """id -> (name, prefix) of every key, read once per page."""
    if "switchyard_key_labels" not in g:
        rows = session.execute(select(ApiKey.id, ApiKey.name, ApiKey.prefix)).all()
        g.switchyard_key_labels = {r.id: (r.name, r.prefix) for r in rows}
    return g.switchyard_key_labels


def _fmt_key(view, context, model, name):
    if model.key_id is None:
        return ""
    key_name, prefix = _key_labels(view.session).get(model.key_id, (f"#{model.key_id}", "?"))
    return Markup('<span title="{}…">{}</span>').format(prefix, key_name)


def _fmt_cost(view, context, model, name):
    if model.cost_usd is not None:
        return Markup("$<span class=\"text-monospace\">{}</span>").format(decimal_text(model.cost_usd))
    if model.usage_known:
        return Markup('<span class="text-muted">unpriced</span>')
    return Markup('<span class="text-muted">unknown</span>') if model.status < 400 else ""


def _fmt_tokens(view, context, model, name):
    if not model.usage_known:
        return ""
    text = f"{model.prompt_tokens or 0} → {model.completion_tokens or 0}"
    if model.cached_tokens:
        text += f" ({model.cached_tokens} cached)"
    return text


def _fmt_ms(view, context, model, name):
    value = getattr(model, name)
    return "" if value is None else f"{float(value):.1f}"


def _fmt_status(view, context, model, name):
    cls = "success" if model.status < 400 else ("warning" if model.status < 500 else "danger")
    return Markup('<span class="badge badge-{}">{}</span>').format(cls, model.status)


class _KeyOptions:
    """The key filter's choices, read when a page lists them (Flask-Admin keeps a filter's options from start-up)."""

    def __bool__(self) -> bool:
        return True

    def __iter__(self):
        with services().sessionmaker() as s:
            rows = s.execute(select(ApiKey.id, ApiKey.name, ApiKey.prefix).order_by(ApiKey.name)).all()
        return iter([(str(r.id), f"{r.name} ({r.prefix}…)") for r in rows])


class RequestLogView(AdminModelView):
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ("created_at", "request_id", "key", "requested_model", "provider", "upstream_model", "status",
                   "error_code", "stream", "tokens", "cost_usd", "upstream_latency_ms", "gateway_latency_ms",
                   "attempts")
    column_details_list = ("request_id", "client_request_id", "traceparent", "created_at", "key", "endpoint", "requested_model", "route", "provider",
                           "upstream_model", "status", "error_code", "stream", "attempts", "fallback_used",
                           "usage_known", "prompt_tokens", "completion_tokens", "cached_tokens",
                           "reasoning_tokens", "cost_usd", "price_version", "upstream_latency_ms",
                           "gateway_latency_ms")
    column_labels = {"created_at": "Time (UTC)", "request_id": "Request id", "requested_model": "Model asked",
                     "upstream_model": "Upstream model", "error_code": "Error", "cost_usd": "Cost (USD)",
                     "upstream_latency_ms": "Provider ms", "gateway_latency_ms": "Overhead ms",
                     "usage_known": "Usage known", "client_request_id": "Client's request id",
                     "traceparent": "Trace context"}
    column_formatters = {"key": _fmt_key, "cost_usd": _fmt_cost, "tokens": _fmt_tokens, "status": _fmt_status,
                         "upstream_latency_ms": _fmt_ms, "gateway_latency_ms": _fmt_ms,
                         "request_id": lambda v, c, m, n: Markup("<code>{}</code>").format(m.request_id)}
    column_formatters_detail = column_formatters
    column_sortable_list = ("created_at", "requested_model", "provider", "status", "error_code", "cost_usd",
                            "upstream_latency_ms", "gateway_latency_ms")
    column_default_sort = [("created_at", True), ("id", True)]
    column_searchable_list = ("request_id", "client_request_id")
    search_placeholder = lambda self: "Request id (ours or the client's): exact or its beginning"  # noqa: E731

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """A request id, ours or the client's, exactly or by its beginning: a range on the two indexes (never a
        substring scan of the whole table)."""
        from sqlalchemy import and_, or_
        term = search.strip()
        if not term:
            return query, count_query, joins, count_joins
        upper = term + "\U0010ffff"
        cond = or_(and_(RequestLog.request_id >= term, RequestLog.request_id < upper),
                   and_(RequestLog.client_request_id >= term, RequestLog.client_request_id < upper))
        return query.filter(cond), (count_query.filter(cond) if count_query is not None else None), joins, \
            count_joins
    column_filters = (filters.IntEqualFilter(RequestLog.key_id, "Key", options=_KeyOptions()), "requested_model",
                      "provider", "status", "error_code", "stream", "created_at")
    named_filter_urls = True
    list_template = "switchyard_admin/log_list.html"
    details_template = "switchyard_admin/log_details.html"
    page_size = 50

    @expose("/details/")
    def details_view(self):
        request_id = None
        row_id = request.args.get("id", type=int)
        if row_id is not None:
            request_id = self.session.scalar(select(RequestLog.request_id).where(RequestLog.id == row_id))
        attempts = []
        if request_id is not None:
            attempts = self.session.scalars(select(RequestAttempt).where(RequestAttempt.request_id == request_id)
                                            .order_by(RequestAttempt.position)).all()
        self._template_args["attempts"] = attempts
        return super().details_view()
