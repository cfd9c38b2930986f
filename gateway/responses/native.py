"""A provider's own Responses API answer -> what the client gets: our response id, the model the client asked
for, and everything the official schema requires that the upstream left out (filled from the request, as the
translated path does), so a strict typed client reads a native answer and a translated one alike.

`stamp(response, request, response_id, model)` does it for a response object; `NativeEvents` for a stream's
events (its own `sequence_number` from 0, the response inside created/in_progress/completed/... stamped, items
and text events filled). A null where the schema takes none (`usage`, `user`, `tools`...: OpenAI and xAI send
`user: null`) is left out, then filled like a missing field. Upstream item ids stay; an item without one gets
ours (from the response id and output index, as on the translated path); a response without a status gets the
one its event or its content says (never `in_progress` for a finished answer)."""
import copy
import time

from gateway.responses.response import envelope, item_id
from gateway.responses.stream import RESPONSE_ERROR

_ID_PREFIX = {"message": "msg", "reasoning": "rs", "function_call": "fc"}
# Top-level Response fields whose schema does not allow null (id and model are always ours).
_NOT_NULL = ("created_at", "object", "output", "parallel_tool_calls", "prompt_cache_options", "status", "text",
             "tool_choice", "tools", "user")
_EVENT_STATUS = {"response.created": "in_progress", "response.in_progress": "in_progress",
                 "response.completed": "completed", "response.incomplete": "incomplete", "response.failed": "failed"}
_ITEM_FILL = {"message": {"status": "completed", "role": "assistant", "content": []},
              "function_call": {"status": "completed", "arguments": ""},
              "reasoning": {"summary": []}}


def _fill_part(part: dict) -> dict:
    if part.get("type") == "output_text":
        part.setdefault("annotations", [])
        if part.get("logprobs") is None:
            part["logprobs"] = []
    return part


def fill_item(item: dict, default_id: str | None = None) -> dict:
    if default_id is not None and item.get("type") in _ID_PREFIX and not isinstance(item.get("id"), str):
        item["id"] = default_id
    for k, v in _ITEM_FILL.get(item.get("type"), {}).items():
        if item.get(k) is None:
            item[k] = copy.deepcopy(v)
    if item.get("type") == "message":
        for part in item["content"]:
            if isinstance(part, dict):
                _fill_part(part)
    return item


def _fill_usage(usage) -> dict | None:
    if not isinstance(usage, dict):
        return None
    inp = usage.get("input_tokens_details") if isinstance(usage.get("input_tokens_details"), dict) else {}
    out = usage.get("output_tokens_details") if isinstance(usage.get("output_tokens_details"), dict) else {}
    usage["input_tokens_details"] = {"cached_tokens": 0, "cache_write_tokens": 0, **inp}
    usage["output_tokens_details"] = {"reasoning_tokens": 0, **out}
    usage.setdefault("output_tokens", 0)
    usage.setdefault("total_tokens", usage.get("input_tokens", 0) + usage["output_tokens"])
    return usage


def _item_id(response_id: str, item: dict, index) -> str | None:
    prefix = _ID_PREFIX.get(item.get("type"))
    return item_id(response_id, prefix, index) if prefix and isinstance(index, int) else None


def stamp(response: dict, request: dict, response_id: str, model: str, status: str | None = None) -> dict:
    """The upstream response object (a copy) with our id and model, the schema's required fields filled.
    `status`: what to say when the upstream says none (by default: from its error / incomplete_details)."""
    out = copy.deepcopy(response)
    for k in _NOT_NULL:
        if k in out and out[k] is None:
            del out[k]
    if "status" not in out:
        out["status"] = status or ("failed" if out.get("error") else
                                   "incomplete" if out.get("incomplete_details") else "completed")
    created = out.get("created_at") if isinstance(out.get("created_at"), (int, float)) else int(time.time())
    for k, v in envelope(request, response_id, int(created)).items():
        if k not in out:
            out[k] = v
    out["id"], out["model"] = response_id, model
    if out.get("previous_response_id") is None and request.get("previous_response_id") is not None:
        out["previous_response_id"] = request["previous_response_id"]   # we expanded it: say which one it was
    for k in ("error", "incomplete_details", "instructions"):
        out.setdefault(k, None)
    items = [i for i in out.get("output") or [] if isinstance(i, dict)]
    out["output"] = [fill_item(i, _item_id(response_id, i, n)) for n, i in enumerate(items)]
    usage = _fill_usage(out.get("usage"))
    if usage is None:
        out.pop("usage", None)
    return out


class NativeEvents:
    """One native stream's events, stamped in order. `final` is the response of the terminal event once seen."""

    def __init__(self, request: dict, response_id: str, model: str):
        self.request, self.response_id, self.model = request, response_id, model
        self._seq = 0
        self._names: dict[str, str] = {}          # function call item id -> name (arguments.done needs it)
        self.latest: dict | None = None           # the last response object seen (for response.failed)
        self.final: dict | None = None

    def stamp(self, event: dict) -> dict:
        out = dict(event)
        out["sequence_number"] = self._seq
        self._seq += 1
        if isinstance(out.get("response"), dict):
            out["response"] = stamp(out["response"], self.request, self.response_id, self.model,
                                    _EVENT_STATUS.get(out["type"]))
            self.latest = out["response"]
            if out["type"] in ("response.completed", "response.incomplete"):
                self.final = out["response"]
        if isinstance(out.get("item"), dict):
            item = copy.deepcopy(out["item"])
            out["item"] = fill_item(item, _item_id(self.response_id, item, out.get("output_index")))
            if out["item"].get("type") == "function_call" and isinstance(out["item"].get("id"), str):
                self._names[out["item"]["id"]] = out["item"].get("name") or ""
        if isinstance(out.get("part"), dict):
            out["part"] = _fill_part(dict(out["part"]))
        kind = out["type"]
        if kind in ("response.output_text.delta", "response.output_text.done") and out.get("logprobs") is None:
            out["logprobs"] = []
        if kind == "response.function_call_arguments.done" and not out.get("name"):
            out["name"] = self._names.get(out.get("item_id"), "")
        return out

    def next_sequence(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq


def failed_events(events: NativeEvents, error) -> list[dict]:
    """After the first byte: an `error` event, then response.failed with the last response object seen."""
    base = events.latest or stamp({"object": "response", "output": [], "status": "in_progress"}, events.request,
                                  events.response_id, events.model)
    body = copy.deepcopy(base)
    body.update(status="failed", error={"code": RESPONSE_ERROR.get(error.code, "server_error"),
                                        "message": error.message})
    return [{"type": "error", "sequence_number": events.next_sequence(), "code": error.code,
             "message": error.message, "param": error.param},
            {"type": "response.failed", "sequence_number": events.next_sequence(), "response": body}]
