"""Request logs: read-only, newest first, paged by keyset and filtered on indexed columns (gateway/admin/log_query.py),
a detail page with the attempts and the price row that priced the request, and a CSV export streamed in batches."""
import csv
import io
from datetime import datetime, timezone

from flask import Response, g, request, stream_with_context, url_for
from flask_admin import expose
from markupsafe import Markup
from sqlalchemy import select

from gateway.admin.base import AdminModelView, decimal_text
from gateway.admin.log_query import (CSV_COLUMNS, MAX_EXPORT_DAYS, PAGE_SIZES, Cursor, LogFilter, export_rows,
                                     page)
from gateway import exceptions as exc
from gateway.services import services
from models import ApiKey, PriceRow, RequestAttempt, RequestLog, Team
from models.price_row import RATE_COLUMNS


def _labels(session, model, columns, ids) -> dict:
    """id -> row of just the ids on this page (never every key or team)."""
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    return {r.id: r for r in session.execute(select(model.id, *columns).where(model.id.in_(ids)))}


def page_labels(session, rows) -> None:
    """The names of the keys and teams of the rows shown, read once per page."""
    g.switchyard_key_labels = _labels(session, ApiKey, (ApiKey.name, ApiKey.prefix), [r.key_id for r in rows])
    g.switchyard_team_labels = _labels(session, Team, (Team.name,), [r.team_id for r in rows])


def _fmt_key(view, context, model, name):
    if model.key_id is None:
        return ""
    label = (getattr(g, "switchyard_key_labels", None) or {}).get(model.key_id)
    if label is None:
        label = view.session.execute(select(ApiKey.name, ApiKey.prefix).where(ApiKey.id == model.key_id)).first()
    if label is None:
        return f"#{model.key_id}"
    if context is None:                            # the list: the name, its prefix on hover
        return Markup('<span title="{}…">{}</span>').format(label.prefix, label.name)
    return Markup('<a href="{}">{}</a> <code>{}…</code>').format(
        url_for("admin_keys.details_view", id=model.key_id), label.name, label.prefix)


def _fmt_team(view, context, model, name):
    if model.team_id is None:
        return ""
    label = (getattr(g, "switchyard_team_labels", None) or {}).get(model.team_id)
    if label is None:
        label = view.session.execute(select(Team.name).where(Team.id == model.team_id)).first()
    return label.name if label is not None else f"#{model.team_id}"


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


class RequestLogView(AdminModelView):
    can_create = False
    can_edit = False
    can_delete = False
    column_details_list = ("request_id", "client_request_id", "traceparent", "created_at", "key", "team",
                           "endpoint", "requested_model", "route", "provider", "upstream_model", "status",
                           "error_code", "error_message", "stream", "attempts", "fallback_used", "usage_known",
                           "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
                           "cache_write_tokens", "cache_write_1h_tokens", "audio_input_tokens", "cost_usd",
                           "price_version", "upstream_latency_ms", "gateway_latency_ms")
    column_labels = {"created_at": "Time (UTC)", "request_id": "Request id", "requested_model": "Model asked",
                     "upstream_model": "Upstream model", "error_code": "Error", "cost_usd": "Cost (USD)",
                     "upstream_latency_ms": "Provider ms", "gateway_latency_ms": "Overhead ms",
                     "usage_known": "Usage known", "client_request_id": "Client's request id",
                     "traceparent": "Trace context", "error_message": "Error message"}
    column_formatters_detail = {"key": _fmt_key, "team": _fmt_team, "cost_usd": _fmt_cost, "tokens": _fmt_tokens,
                                "status": _fmt_status, "upstream_latency_ms": _fmt_ms, "gateway_latency_ms": _fmt_ms,
                                "request_id": lambda v, c, m, n: Markup("<code>{}</code>").format(m.request_id)}
    list_template = "switchyard_admin/log_list.html"
    details_template = "switchyard_admin/log_details.html"

    @expose("/")
    def index_view(self):
        """Newest first, 50 a page: an index range from the cursor, never OFFSET or COUNT(*)."""
        flt = LogFilter.from_args(request.args)
        size = request.args.get("per_page", 50, type=int)
        size = size if size in PAGE_SIZES else 50
        before, after = Cursor.parse(request.args.get("before")), Cursor.parse(request.args.get("after"))
        result = page(self.session, flt, after or before, newer=after is not None, size=size) \
            if not flt.errors else None
        rows = result.rows if result else []
        page_labels(self.session, rows)
        snap = services().catalog.snapshot
        return self.render("switchyard_admin/log_list.html", rows=rows, result=result, flt=flt, size=size,
                           page_sizes=PAGE_SIZES, filter_args=flt.args(), error_codes=sorted({c.code for c in exc.GatewayError.__subclasses__()}),
                           models=sorted(snap.models) + sorted(snap.routes), providers=sorted(snap.providers),
                           fmt={"key": lambda r: _fmt_key(self, None, r, "key"),
                                "team": lambda r: _fmt_team(self, None, r, "team"),
                                "cost": lambda r: _fmt_cost(self, None, r, "cost_usd"),
                                "tokens": lambda r: _fmt_tokens(self, None, r, "tokens"),
                                "status": lambda r: _fmt_status(self, None, r, "status")},
                           max_export_days=MAX_EXPORT_DAYS)

    @expose("/details/")
    def details_view(self):
        row_id = request.args.get("id", type=int)
        row = self.session.get(RequestLog, row_id) if row_id is not None else None
        attempts, price = [], None
        if row is not None:
            attempts = self.session.scalars(select(RequestAttempt).where(RequestAttempt.request_id == row.request_id)
                                            .order_by(RequestAttempt.position)).all()
            if row.price_id is not None:
                price = self.session.get(PriceRow, row.price_id)
        self._template_args.update(attempts=attempts, price=price, price_fields=RATE_COLUMNS)
        return super().details_view()

    @expose("/export.csv")
    def export_view(self):
        """The filtered rows of a date range (at most MAX_EXPORT_DAYS), oldest first, streamed as CSV."""
        flt = LogFilter.from_args(request.args)
        problem = next((e for e in flt.errors), None)
        if problem is None and (flt.start is None or flt.end is None):
            problem = "Choose a date range (from and to) to export."
        elif problem is None and (flt.end - flt.start).days + 1 > MAX_EXPORT_DAYS:
            problem = f"An export covers at most {MAX_EXPORT_DAYS} days; {flt.start} to {flt.end} is " \
                      f"{(flt.end - flt.start).days + 1}."
        if problem is not None:
            return Response(f"{problem}\n", status=400, mimetype="text/plain")
        sessionmaker = services().sessionmaker

        def lines():
            buf = io.StringIO()
            out = csv.writer(buf)
            out.writerow(CSV_COLUMNS)
            n = 0
            for row in export_rows(sessionmaker, flt):
                out.writerow([_csv(getattr(row, c)) for c in CSV_COLUMNS])
                n += 1
                if n % 200 == 0:
                    yield buf.getvalue()
                    buf.seek(0), buf.truncate()
            yield buf.getvalue()

        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return Response(stream_with_context(lines()), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="switchyard-logs-{flt.start}-{flt.end}-{stamp}.csv"',
            "Cache-Control": "no-store"})


def _csv(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if hasattr(value, "as_tuple"):                 # Decimal: exact, no exponent
        return decimal_text(value)
    return str(value)
