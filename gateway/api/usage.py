"""GET /v1/usage (the calling key's request rows, page by page) and GET /v1/usage/summary (per day, model or
provider, from the daily rollups): parse, call gateway/usage.py, answer."""
from flask import Blueprint, request

from gateway import usage
from gateway.api.common import authenticate, json_response
from gateway.services import services

bp = Blueprint("usage", __name__)


@bp.get("/v1/usage")
def rows():
    key = authenticate()
    scope = usage.scope_of(key, request.args)
    start, to = usage.date_range(request.args)
    with services().sessionmaker() as s:
        return json_response(usage.rows(s, scope, start, to, request.args))


@bp.get("/v1/usage/summary")
def summary():
    key = authenticate()
    scope = usage.scope_of(key, request.args)
    start, to = usage.date_range(request.args)
    with services().sessionmaker() as s:
        return json_response(usage.summary(s, scope, start, to, request.args.get("group_by")))
