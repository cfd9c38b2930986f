"""The Responses API: POST /v1/responses (natively or translated per target, gateway/response_service.py), and
the stored responses: GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items."""
from flask import Blueprint, request

from gateway import exceptions as exc
from gateway.api.common import authenticate, json_body, json_response, sse_response, start_record
from gateway.services import services
from schemas.responses import validate_responses_request

bp = Blueprint("responses", __name__)


@bp.post("/v1/responses")
def create():
    rec = start_record("responses")
    key = authenticate(count=False)
    body = json_body()
    rec.asked(body["model"] if isinstance(body.get("model"), str) else None)
    problem = validate_responses_request(body)
    if problem is not None:
        raise exc.InvalidRequest(problem[1], param=problem[0])
    answer = services().responses.create(body, key, rec)
    return json_response(answer) if isinstance(answer, dict) else sse_response(answer)


@bp.get("/v1/responses/<response_id>")
def get(response_id: str):
    return json_response(services().responses.get(authenticate(), response_id))


@bp.delete("/v1/responses/<response_id>")
def delete(response_id: str):
    return json_response(services().responses.delete(authenticate(), response_id))


@bp.get("/v1/responses/<response_id>/input_items")
def input_items(response_id: str):
    args = request.args
    return json_response(services().responses.input_items(authenticate(), response_id, args.get("order"),
                                                          args.get("after"), args.get("limit")))
