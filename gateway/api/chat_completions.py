"""POST /v1/chat/completions: parse, validate, hand to the pipeline, shape the answer."""
from flask import Blueprint, Response

from gateway import exceptions as exc
from gateway.api.common import authenticate, json_body, json_response, start_record
from gateway.services import services
from gateway.streaming import RelayBody, StreamTimings, open_stream
from schemas import validate_chat_request

bp = Blueprint("chat_completions", __name__)


@bp.post("/v1/chat/completions")
def create():
    rec = start_record("chat.completions")
    key = authenticate()
    rec.key_id = key.id
    body = json_body()
    if isinstance(body.get("model"), str):
        rec.requested_model = body["model"]
    problem = validate_chat_request(body)
    if problem is not None:
        raise exc.InvalidRequest(problem[1], param=problem[0])
    key.check_model(body["model"])
    svc = services()
    plan = svc.pipeline.plan(body["model"])
    if body.get("stream"):
        return _stream(svc, body, plan, rec)
    completion = svc.pipeline.chat(body, plan, rec)
    return json_response(completion.body)


def _stream(svc, body, plan, rec) -> Response:
    rec.stream = True
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    timings = StreamTimings(svc.settings.STREAM_KEEPALIVE_S, svc.settings.STREAM_IDLE_TIMEOUT_S,
                            svc.settings.STREAM_MAX_S)
    session = open_stream(svc.pipeline, body, plan, rec, include_usage, timings)
    body_iter = RelayBody(session, rec, include_usage, timings, svc.finish)
    return Response(body_iter, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

