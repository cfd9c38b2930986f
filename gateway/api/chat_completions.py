"""POST /v1/chat/completions: parse, validate, hand to the pipeline, shape the answer."""
from flask import Blueprint

from gateway import exceptions as exc
from gateway.chunks import ChatEgress, ChunkEnvelope
from gateway.api.common import admit, authenticate, json_body, json_response, sse_response, start_record
from gateway.services import services
from schemas import validate_chat_request

bp = Blueprint("chat_completions", __name__)


@bp.post("/v1/chat/completions")
def create():
    rec = start_record("chat.completions")
    key = authenticate(count=False)
    body = json_body()
    rec.asked(body["model"] if isinstance(body.get("model"), str) else None)
    problem = validate_chat_request(body)
    if problem is not None:
        raise exc.InvalidRequest(problem[1], param=problem[0])
    key.check_model(body["model"])
    pipeline = services().pipeline
    plan = pipeline.plan(body["model"])
    admit(key, rec, plan, body)
    if body.get("stream"):
        rec.asked(body["model"], stream=True)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        egress = ChatEgress(ChunkEnvelope.new(plan.requested, include_usage))
        return sse_response(pipeline.stream(body, plan, rec, egress))
    return json_response(pipeline.chat(body, plan, rec).body)
