"""GET /v1/usage (the calling key's request rows, page by page) and GET /v1/usage/summary (per day, model or
provider, from the daily rollups): parse, call gateway/usage.py, answer."""
from flask import Blueprint, request

from gateway import usage
from gateway.api.common import authenticate, json_response
from gateway.services import services

bp = Blueprint("usage", __name__)


def _answer(query):
    """Whose usage and which days (the same parameters on both), then `query(session, scope, from, to)`."""
    key = authenticate()
    scope = usage.scope_of(key, request.args)
    start, to = usage.date_range(request.args)
    with services().sessionmaker() as s:
        return json_response(query(s, scope, start, to))


@bp.get("/v1/usage")
def rows():
    return _answer(lambda s, scope, start, to: usage.rows(s, scope, start, to, request.args))


@bp.get("/v1/usage/summary")
def summary():
    return _answer(lambda s, scope, start, to: usage.summary(s, scope, start, to, request.args.get("group_by")))
