"""A provider double on 127.0.0.1: speaks OpenAI's wire format (and records what it received), scriptable per model."""
import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorded:
    def __init__(self, method: str, path: str, headers: dict, body: dict | None):
        self.method, self.path, self.headers, self.body = method, path, headers, body


def openai_completion(model: str, content: str | None = "Hello from the double.", tool_calls=None,
                      finish: str = "stop", prompt_tokens: int = 12, completion_tokens: int = 5,
                      cached_tokens: int = 0, reasoning_tokens: int = 0, minimal: bool = False) -> dict:
    """An OpenAI-shaped answer. `minimal` leaves out what some compatible servers omit (refusal, logprobs...)."""
    message = {"role": "assistant", "content": content}
    if not minimal:
        message["refusal"] = None
        message["annotations"] = []
    if tool_calls:
        message["tool_calls"] = tool_calls
    choice = {"index": 0, "message": message, "finish_reason": finish}
    if not minimal:
        choice["logprobs"] = None
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    if not minimal:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens, "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    body = {"id": "chatcmpl-double123", "object": "chat.completion", "created": 1732000000, "model": model,
            "choices": [choice], "usage": usage}
    if not minimal:
        body["system_fingerprint"] = "fp_double"
        body["service_tier"] = "default"
    return body


def _default_openai(body: dict) -> dict:
    """Answer like a model: call the first tool when tools are offered and the user spoke last; else echo."""
    model = body.get("model", "unknown")
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    tools = body.get("tools") or []
    if tools and last.get("role") == "user" and body.get("tool_choice") != "none":
        name = tools[0]["function"]["name"]
        return openai_completion(model, None, finish="tool_calls", tool_calls=[{
            "id": "call_double_1", "type": "function",
            "function": {"name": name, "arguments": json.dumps({"city": "Paris"})}}], completion_tokens=9)
    if last.get("role") == "tool":
        return openai_completion(model, f"The tool said: {last.get('content')}")
    text = last.get("content") if isinstance(last.get("content"), str) else "parts"
    return openai_completion(model, f"Echo: {text}")


class ProviderDouble:
    """A real HTTP server. `enqueue(model, reply...)` scripts the next answers for an upstream model id; a reply
    is {"status": int, "body": dict|str, "headers": dict, "delay": seconds}. Unscripted requests get a default."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.calls: dict[str, int] = defaultdict(int)
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ProviderDouble":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.calls.clear()
            self._scripts.clear()

    def enqueue(self, model: str, *replies: dict) -> None:
        with self._lock:
            self._scripts[model].extend(replies)

    def last(self) -> Recorded:
        return self.requests[-1]

    def _next_reply(self, model: str) -> dict | None:
        with self._lock:
            self.calls[model] += 1
            queue = self._scripts.get(model)
            return queue.popleft() if queue else None

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body, headers: dict | None = None):
                data = body if isinstance(body, bytes) else (
                    body.encode() if isinstance(body, str) else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                with double._lock:
                    double.requests.append(Recorded("POST", self.path, dict(self.headers), body))
                model = (body or {}).get("model", "")
                reply = double._next_reply(model)
                if reply is not None:
                    if reply.get("delay"):
                        time.sleep(reply["delay"])
                    if "body" not in reply and reply.get("status", 200) == 200:
                        return self._send(200, _default_openai(body or {}), reply.get("headers"))
                    return self._send(reply.get("status", 200), reply.get("body", {}), reply.get("headers"))
                if self.path.endswith("/chat/completions"):
                    if self.headers.get("Authorization") != "Bearer test-openai-key":
                        return self._send(401, {"error": {"message": "Incorrect API key provided.",
                                                          "type": "invalid_request_error", "param": None,
                                                          "code": "invalid_api_key"}})
                    return self._send(200, _default_openai(body or {}))
                return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        return Handler
