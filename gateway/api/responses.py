"""POST /v1/responses (the OpenAI Responses API), translated onto the chat pipeline for every target: parse,
translate (gateway/responses), hand to the pipeline, shape the answer. Routing, fallback, retries, cooldowns,
key allow-lists, limits, headers, pricing and the log row are the chat path's own.

Not served yet (issue 11 continues): native passthrough for providers that speak the Responses API (a model the
catalog serves only there answers 501 `not_implemented`), and stored responses (`previous_response_id`, and
GET/DELETE /v1/responses/{id}); `store` is accepted and nothing is kept."""
from flask import Blueprint

from gateway import exceptions as exc
from gateway.api.common import authenticate, json_body, json_response, sse_response, start_record
from gateway.chunks import ChunkEnvelope
from gateway.responses import from_chat, new_response_id, to_chat
from gateway.responses.egress import ResponsesEgress
from gateway.services import services

bp = Blueprint("responses", __name__)


@bp.post("/v1/responses")
def create():
    rec = start_record("responses")
    key = authenticate()
    body = json_body()
    model = body.get("model")
    rec.asked(model if isinstance(model, str) else None)
    if not isinstance(model, str) or not model:
        raise exc.InvalidRequest("model is required: a string naming a model or a route.", param="model")
    key.check_model(model)
    pipeline = services().pipeline
    plan = pipeline.plan(model, endpoint="responses")
    only_native = [t.slug for t in plan.targets if t.capabilities.get("endpoints") == ["responses"]]
    if only_native:
        raise exc.NotImplementedYet(f"The model '{only_native[0]}' is served only through the provider's own "
                                    f"Responses API, which this gateway does not pass through yet.", param="model")
    if body.get("previous_response_id") is not None:
        raise exc.NotImplementedYet("Stored responses are not kept by this gateway yet: send the whole input "
                                    "instead of previous_response_id.", param="previous_response_id")
    req = to_chat(body, drop_unsupported=all(t.drop_unsupported for t in plan.targets))
    response_id = new_response_id()
    try:
        if body.get("stream"):
            rec.asked(model, stream=True)
            egress = ResponsesEgress(body, ChunkEnvelope.new(plan.requested, True), response_id)
            return sse_response(pipeline.stream(req.chat, plan, rec, egress))
        completion = pipeline.chat(req.chat, plan, rec)
    except exc.InvalidRequest as e:             # an adapter named a chat field: name the client's own
        e.param = req.responses_param(e.param)
        raise
    return json_response(from_chat(completion.body, body, response_id=response_id))
