"""Canonical chat.completion.chunk bodies -> Responses stream events, one state object per stream.

Events, each with the next `sequence_number` (from 0): response.created, response.in_progress; then per output
item, in the order the deltas arrive:
  reasoning      output_item.added (summary []) -> reasoning_summary_part.added -> reasoning_summary_text.delta
                 ... -> reasoning_summary_text.done -> reasoning_summary_part.done -> output_item.done (with the
                 encrypted_content of the thinking blocks and signatures, carry.py)
  message        output_item.added (content []) -> content_part.added (output_text "") -> output_text.delta ...
                 -> output_text.done -> content_part.done -> output_item.done; a refusal is its own part
                 (refusal.delta / refusal.done)
  function_call  output_item.added (arguments "") -> function_call_arguments.delta ... -> .done ->
                 output_item.done; each tool-call index is its own item with its own output_index
An item closes when the next one begins (reasoning when text or a call starts, a call when the next starts) or
at the end; then response.completed or response.incomplete with the same object response.from_chat builds for
the whole answer. A Gemini signature on a tool call is folded into the reasoning item still open before it,
else into a new one (as in response.py). `fail(error)` after the first byte: an `error` event, then
response.failed. A delta for a tool call already closed (interleaved calls, which no adapter sends) is the
provider's fault.
"""
import copy
import time

from gateway import exceptions as exc
from gateway.responses import response as resp

RESPONSE_ERROR = {"rate_limited": "rate_limit_exceeded", "quota_exceeded": "rate_limit_exceeded",
                   "invalid_request": "invalid_prompt"}


class ResponsesStream:
    def __init__(self, request: dict, *, response_id: str | None = None, clock=time.time):
        self.response_id = response_id or resp.new_response_id()
        self._clock = clock
        self._body = resp.envelope(request, self.response_id, int(clock()))
        self._seq = 0
        self._open: dict | None = None           # the item being streamed: kind, index, item and its buffers
        self._calls: dict[int, dict] = {}        # chat tool-call index -> its item state
        self._started = self._ended = False
        self.usage: dict | None = None           # the chat usage of the final chunk
        self.finish_reason: str | None = None

    # ---- the three calls of a stream's life

    def start(self) -> list[dict]:
        if self._started:
            return []
        self._started = True
        return [self._event("response.created", response=copy.deepcopy(self._body)),
                self._event("response.in_progress", response=copy.deepcopy(self._body))]

    def feed(self, chunk: dict) -> list[dict]:
        out = self.start()
        if self._ended:
            return out
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue                          # the translation never asks for n > 1
            delta = choice.get("delta") or {}
            if isinstance(delta.get("reasoning_content"), str) and delta["reasoning_content"]:
                out += self._reasoning_text(delta["reasoning_content"])
            if isinstance(delta.get("thinking_blocks"), list) and delta["thinking_blocks"]:
                out += self._reasoning()
                self._open["blocks"] += [b for b in delta["thinking_blocks"] if isinstance(b, dict)]
            if isinstance(delta.get("content"), str) and delta["content"]:
                out += self._message_delta("output_text", delta["content"])
            if isinstance(delta.get("refusal"), str) and delta["refusal"]:
                out += self._message_delta("refusal", delta["refusal"])
            for call in delta.get("tool_calls") or []:
                out += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[dict]:
        out = self.start()
        if self._ended:
            return out
        self._ended = True
        incomplete = self.finish_reason in ("length", "content_filter")
        out += self._close("incomplete" if incomplete else "completed")
        body = resp.finish(self._body, self.finish_reason, resp.usage_of(self.usage), int(self._clock()))
        kind = "response.incomplete" if body["status"] == "incomplete" else "response.completed"
        return out + [self._event(kind, response=copy.deepcopy(body))]

    def fail(self, error: exc.GatewayError) -> list[dict]:
        """The events for an error after the first byte: `error`, then response.failed with what was made."""
        out = self.start()
        if self._ended:
            return out
        self._ended = True
        if self._open is not None:
            self._body["output"][self._open["index"]] = self._final(self._open, "incomplete")
            self._open = None
        self._body.update(status="failed", error={"code": RESPONSE_ERROR.get(error.code, "server_error"),
                                                  "message": error.message})
        usage = resp.usage_of(self.usage)
        if usage is not None:
            self._body["usage"] = usage
        return out + [self._event("error", code=error.code, message=error.message, param=error.param),
                      self._event("response.failed", response=copy.deepcopy(self._body))]

    # ---- items

    def _event(self, kind: str, **fields) -> dict:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _add(self, kind: str, prefix: str, item: dict, **state) -> list[dict]:
        index = len(self._body["output"])
        item = {"id": resp.item_id(self.response_id, prefix, index), **item}
        self._body["output"].append(item)
        self._open = {"kind": kind, "index": index, "item": item, **state}
        return [self._event("response.output_item.added", output_index=index, item=copy.deepcopy(item))]

    def _reasoning(self) -> list[dict]:
        if self._open is not None and self._open["kind"] == "reasoning":
            return []
        out = self._close("completed")
        return out + self._add("reasoning", "rs", {"type": "reasoning", "summary": []}, text="", part=False,
                               blocks=[], signatures={})

    def _reasoning_text(self, text: str) -> list[dict]:
        out = self._reasoning()
        state = self._open
        where = {"item_id": state["item"]["id"], "output_index": state["index"], "summary_index": 0}
        if not state["part"]:
            state["part"] = True
            out.append(self._event("response.reasoning_summary_part.added", **where,
                                   part={"type": "summary_text", "text": ""}))
        state["text"] += text
        return out + [self._event("response.reasoning_summary_text.delta", **where, delta=text)]

    def _message_delta(self, kind: str, text: str) -> list[dict]:
        out: list[dict] = []
        if self._open is None or self._open["kind"] != "message":
            out += self._close("completed")
            out += self._add("message", "msg", {"type": "message", "status": "in_progress", "role": "assistant",
                                                "content": []}, parts=[], part=None)
        state = self._open
        if state["part"] is None or state["part"]["type"] != kind:
            out += self._close_part(state)
            part = resp.output_text("") if kind == "output_text" else {"type": "refusal", "refusal": ""}
            state["part"] = part
            out.append(self._event("response.content_part.added", **self._where(state), part=copy.deepcopy(part)))
        part = state["part"]
        if kind == "output_text":
            part["text"] += text
            return out + [self._event("response.output_text.delta", **self._where(state), delta=text, logprobs=[])]
        part["refusal"] += text
        return out + [self._event("response.refusal.delta", **self._where(state), delta=text)]

    def _where(self, state: dict) -> dict:
        return {"item_id": state["item"]["id"], "output_index": state["index"], "content_index": len(state["parts"])}

    def _close_part(self, state: dict) -> list[dict]:
        part = state["part"]
        if part is None:
            return []
        where = self._where(state)
        state["parts"].append(part)
        state["part"] = None
        if part["type"] == "output_text":
            done = self._event("response.output_text.done", **where, text=part["text"], logprobs=[])
        else:
            done = self._event("response.refusal.done", **where, refusal=part["refusal"])
        return [done, self._event("response.content_part.done", **where, part=copy.deepcopy(part))]

    def _tool_call(self, call: dict) -> list[dict]:
        index = call.get("index", 0)
        fn = call.get("function") or {}
        out: list[dict] = []
        state = self._calls.get(index)
        if state is None:
            signature = resp.signature_of(call)
            call_id = resp.call_id_of(call)
            if signature and self._open is not None and self._open["kind"] == "reasoning":
                self._open["signatures"][call_id] = signature
            elif signature:
                out += self._close("completed")
                out += self._add("reasoning", "rs", {"type": "reasoning", "summary": []}, text="", part=False,
                                 blocks=[], signatures={call_id: signature})
            out += self._close("completed")
            out += self._add("function_call", "fc", {"type": "function_call", "status": "in_progress",
                                                     "call_id": call_id, "name": fn.get("name") or "",
                                                     "arguments": ""}, args="")
            state = self._calls[index] = self._open
        elif state is not self._open:
            raise exc.ProviderUnavailable("The provider sent arguments for a tool call after the next one began.")
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            state["args"] += args
            out.append(self._event("response.function_call_arguments.delta", item_id=state["item"]["id"],
                                   output_index=state["index"], delta=args))
        return out

    def _final(self, state: dict, status: str) -> dict:
        item = state["item"]
        if state["kind"] == "reasoning":
            return resp.reasoning_item(item["id"], state["text"], state["blocks"], state["signatures"])
        if state["kind"] == "message":
            parts = state["parts"] + ([state["part"]] if state["part"] is not None else [])
            return {**item, "status": status, "content": copy.deepcopy(parts)}
        return {**item, "status": status, "arguments": state["args"]}

    def _close(self, status: str) -> list[dict]:
        state = self._open
        if state is None:
            return []
        self._open = None
        out: list[dict] = []
        if state["kind"] == "reasoning" and state["part"]:
            where = {"item_id": state["item"]["id"], "output_index": state["index"], "summary_index": 0}
            cut = {"status": "incomplete"} if status == "incomplete" else {}    # omitted when it ended normally
            out += [self._event("response.reasoning_summary_text.done", **where, text=state["text"]),
                    self._event("response.reasoning_summary_part.done", **where,
                                part={"type": "summary_text", "text": state["text"]}, **cut)]
        elif state["kind"] == "message":
            out += self._close_part(state)
        elif state["kind"] == "function_call":
            out.append(self._event("response.function_call_arguments.done", item_id=state["item"]["id"],
                                   output_index=state["index"], name=state["item"]["name"],
                                   arguments=state["args"]))
        final = self._final(state, status)
        self._body["output"][state["index"]] = final
        return out + [self._event("response.output_item.done", output_index=state["index"],
                                  item=copy.deepcopy(final))]
