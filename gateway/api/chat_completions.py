"""POST /v1/chat/completions: parse, validate, hand to the pipeline, shape the answer."""
from flask import Blueprint

from gateway import exceptions as exc
from gateway.api.common import authenticate, json_body, json_response, start_record
from gateway.services import services
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
    if body.get("stream"):
        raise exc.NotImplementedYet("Streaming (stream: true) is not available yet.", param="stream")
    pipeline = services().pipeline
    completion = pipeline.chat(body, pipeline.plan(body["model"]), rec)
    return json_response(completion.body)
