"""The /v1/responses step between the blueprint and the pipeline: per target, the provider's own Responses API
(`Target.responses_native`) or the translation onto chat (gateway/responses), and the stored responses around it.

One request: resolve the plan as on chat; expand `previous_response_id` from the store (every provider, translated
ones included: the stored chain's items go before the new input, for native targets too, so a chain may move
between providers); translate once for the translated targets (whatever they cannot honour is a 400 naming the
field before any call); then the pipeline tries the targets in order, each through its own leg. The answer gets
our response id and the model the client asked for either way. With `store` (the default), the final response
object is handed to the store (gateway/response_store.py) before its last byte is sent: off the request path,
readable as soon as the client has it."""
from datetime import datetime, timezone

from gateway import exceptions as exc
from gateway.auth import KeyRecord
from gateway.chunks import ChunkEnvelope
from gateway.pipeline import Leg, Pipeline
from gateway.providers import adapter_for
from gateway.record import RequestRecord
from gateway.response_store import ResponseStore, Stored
from gateway.responses import from_chat, new_response_id, to_chat
from gateway.responses.egress import NativeEgress, ResponsesEgress
from gateway.responses.native import stamp
from gateway.responses.stored import continued, input_items, item_page
from gateway.streaming import RelayBody
from gateway.values import Target


class ResponsesService:
    def __init__(self, pipeline: Pipeline, store: ResponseStore, admit=None):
        self.pipeline, self.store = pipeline, store
        self._admit = admit          # the admit step (gateway/admission.py): after validation and routing

    def create(self, body: dict, key: KeyRecord, rec: RequestRecord) -> dict | RelayBody:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise exc.InvalidRequest("model is required: a string naming a model or a route.", param="model")
        if body.get("background"):
            raise exc.InvalidRequest("background: true is not served: the gateway meters and logs a response while "
                                     "it answers; send the request without it.", param="background")
        stream = bool(body.get("stream"))
        rec.asked(model, stream=stream)
        key.check_model(model)
        plan = self.pipeline.plan(model, endpoint="responses")
        context = self._context(body, key)
        response_id = new_response_id(stored=body.get("store") is not False)
        translated = [t for t in plan.targets if not t.responses_native]
        req = to_chat(body, drop_unsupported=all(t.drop_unsupported for t in translated), history=context) \
            if translated else None
        native_body = {k: v for k, v in body.items() if k != "previous_response_id"}
        if context:
            native_body["input"] = continued(context, body.get("input"))
        keep = self._keeper(body, key, response_id, context) if body.get("store") is not False else None
        if self._admit is not None:
            self._admit(key, rec, plan, req.chat if req is not None else body)

        def leg(target: Target) -> Leg | None:
            if target.responses_native:
                adapter = adapter_for(target.provider_type, responses_api=True)
                egress = NativeEgress(body, response_id, plan.requested, keep) if stream else None
                return None if adapter is None else Leg(adapter, native_body, egress)
            adapter = adapter_for(target.provider_type)
            egress = ResponsesEgress(body, ChunkEnvelope.new(plan.requested, True), response_id, keep) \
                if stream else None
            return None if adapter is None else Leg(adapter, req.chat, egress)
        try:
            if stream:
                return self.pipeline.relay(plan, rec, leg)
            completion, target = self.pipeline.answer(plan, rec, leg)
        except exc.InvalidRequest as e:         # a translated target's adapter named a chat field: name ours
            if req is not None:
                e.param = req.responses_param(e.param)
            raise
        if target.responses_native:
            out = stamp(completion.body, body, response_id, plan.requested)
        else:
            out = from_chat(completion.body, body, response_id=response_id)
        if keep is not None:
            keep(out)
        return out

    def _context(self, body: dict, key: KeyRecord) -> list:
        previous = body.get("previous_response_id")
        if previous is None:
            return []
        if not isinstance(previous, str) or not previous:
            raise exc.InvalidRequest("previous_response_id is the id of a stored response.",
                                     param="previous_response_id")
        found = self.store.get(key.id, previous)
        if found is None:
            raise exc.InvalidRequest(f"Previous response with id '{previous}' not found (it was never stored, "
                                     f"was deleted or has expired, or belongs to another key).",
                                     param="previous_response_id")
        return found.context()

    def _keeper(self, body: dict, key: KeyRecord, response_id: str, context: list):
        own = input_items(body.get("input"), response_id)
        previous = body.get("previous_response_id")
        kept: list = []

        def keep(response: dict) -> None:
            if kept:
                return
            kept.append(response_id)
            self.store.put(Stored(response_id, key.id, datetime.now(timezone.utc).replace(tzinfo=None),
                                  response.get("model"), previous, context, own, response))
        return keep

    # ---- GET / DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items

    def _found(self, key: KeyRecord, response_id: str) -> Stored:
        found = self.store.get(key.id, response_id)
        if found is None:
            raise exc.NotFound(f"No response with id '{response_id}' is stored for this key.", param="response_id")
        return found

    def get(self, key: KeyRecord, response_id: str) -> dict:
        return self._found(key, response_id).response

    def delete(self, key: KeyRecord, response_id: str) -> dict:
        if not self.store.delete(key.id, response_id):
            raise exc.NotFound(f"No response with id '{response_id}' is stored for this key.", param="response_id")
        return {"id": response_id, "object": "response", "deleted": True}

    def input_items(self, key: KeyRecord, response_id: str, order=None, after=None, limit=None) -> dict:
        return item_page(self._found(key, response_id).input_items, order, after, limit)
