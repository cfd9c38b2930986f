"""A provider double on 127.0.0.1: an OpenAI, Anthropic and Gemini lookalike that records what it received.

Paths: /openai/v1/..., /local/v1/... and /xai/v1/... speak OpenAI (chat/completions here; responses in
tests/support/double_responses.py); /anthropic/v1/messages speaks Anthropic (handler in
tests/support/double_anthropic.py); /gemini/v1beta/models/{model}:generateContent speaks Gemini (handler in
tests/support/double_gemini.py). Every path can be scripted per model with `enqueue`, and served broken per request
(tests/support/double_faults.py: a reply's "fault", or an upstream model named `fault-<name>`).

OpenAI model names may shape the answer (`model_shape`: `delay-<ms>`, `chunks-<n>`, `chunkdelay-<ms>`). It counts
what it serves (`stats()`, also as GET /_double/stats): open connections, streams in progress, streams
finished and streams whose reader went away before their end. Run alone (the soak, bench/soak.py):
`python -m tests.support.double --port N [--openai-key KEY]`.
"""
import argparse
import importlib
import json
import socket
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support import double_faults, double_responses


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


def _protocol_for(path: str):
    """The protocol handler module for a path (this module itself for OpenAI), or None."""
    for prefix, module in (("/openai/", __name__), ("/local/", __name__), ("/xai/", __name__),
                           ("/anthropic/", "tests.support.double_anthropic"),
                           ("/gemini/", "tests.support.double_gemini")):
        if path.startswith(prefix):
            try:
                return importlib.import_module(module)
            except ModuleNotFoundError:
                return None
    return None


def model_of(path: str, body: dict) -> str:
    return body.get("model", "")


def default_reply(double, path: str, headers: dict, body: dict) -> dict:
    """OpenAI protocol: check the key, then answer (as a stream when asked); /responses has its own module."""
    if path.endswith("/responses"):
        return double_responses.default_reply(double, path, headers, body)
    if not path.endswith("/chat/completions"):
        return {"status": 404, "body": {"error": {"message": f"no route {path}", "type": "invalid_request_error",
                                                  "param": None, "code": None}}}
    if headers.get("Authorization") != f"Bearer {double.openai_key}":
        return {"status": 401, "body": {"error": {"message": "Incorrect API key provided.",
                                                  "type": "invalid_request_error", "param": None,
                                                  "code": "invalid_api_key"}}}
    shape = model_shape(body.get("model", ""))
    completion = _default_openai(body)
    if "chunks" in shape:
        completion["choices"][0]["message"]["content"] = " ".join(["word"] * shape["chunks"])
    if shape.get("delay"):
        time.sleep(shape["delay"])
    if body.get("stream"):
        return {"stream": openai_stream(completion, include_usage=bool(
            (body.get("stream_options") or {}).get("include_usage")), pieces=shape.get("chunks", 3)),
            "chunk_delay": shape.get("chunk_delay")}
    return {"body": completion}


def model_shape(model: str) -> dict:
    """The answer's shape from an OpenAI model name's dot-separated parts, as bench/double.js reads them:
    `delay-<ms>` before answering, `chunks-<n>` content chunks (n words), `chunkdelay-<ms>` between a stream's
    chunks; e.g. `soak.delay-20.chunks-10.chunkdelay-50`. Other parts are ignored."""
    shape: dict = {}
    for part in model.split("."):
        name, _, value = part.rpartition("-")
        if not value.isdigit():
            continue
        if name == "delay":
            shape["delay"] = int(value) / 1000
        elif name == "chunks" and int(value) > 0:
            shape["chunks"] = int(value)
        elif name == "chunkdelay":
            shape["chunk_delay"] = int(value) / 1000
    return shape


def openai_stream(completion: dict, include_usage: bool = False, pieces: int = 3) -> list[bytes]:
    """An OpenAI completion re-told as the SSE chunks OpenAI would send for it."""
    base = {"id": completion["id"], "object": "chat.completion.chunk", "created": completion["created"],
            "model": completion["model"], "system_fingerprint": "fp_double"}
    msg = completion["choices"][0]["message"]
    chunks = []

    def add(delta, finish=None):
        c = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            c["usage"] = None
        chunks.append(c)
    if msg.get("tool_calls"):
        add({"role": "assistant", "content": None})
        for i, call in enumerate(msg["tool_calls"]):
            args = call["function"]["arguments"]
            add({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                 "function": {"name": call["function"]["name"], "arguments": ""}}]})
            step = max(1, len(args) // pieces)
            for j in range(0, len(args), step):
                add({"tool_calls": [{"index": i, "function": {"arguments": args[j:j + step]}}]})
    else:
        add({"role": "assistant", "content": "", "refusal": None})
        text = msg.get("content") or ""
        step = max(1, len(text) // pieces)
        for j in range(0, len(text), step):
            add({"content": text[j:j + step]})
    add({}, completion["choices"][0]["finish_reason"])
    if include_usage:
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def slow_openai_stream(model: str, text: str, pause_s: float | None = None, total_s: float | None = None) -> dict:
    """A stream reply for `enqueue`: `text` in pieces (with usage), `pause_s` between every two events, or the
    pauses spread evenly over `total_s`."""
    pieces = openai_stream(openai_completion(model, text), include_usage=True, pieces=len(text.split()))
    if pause_s is None:
        pause_s = total_s / (len(pieces) - 1)
    slow: list = []
    for p in pieces:
        slow += [p, pause_s]
    return {"stream": slow[:-1]}


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


HOLD_MAX_S = 30.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024    # hundreds of streams open at once (socketserver's default backlog is 5)


def _hold(event) -> None:
    """Wait for a test's Event; one that is never set (a failed test) frees the handler after HOLD_MAX_S."""
    event.wait(HOLD_MAX_S)


class ProviderDouble:
    """A real HTTP server. `enqueue(model, reply...)` scripts the next answers for an upstream model id; a reply
    is {"status": int, "body": dict|str|bytes, "headers": dict, "delay": seconds, "hold": threading.Event} or, for a
    stream, {"stream": [bytes, pause seconds or a threading.Event, ...], "chunk_delay": seconds} (sent as
    text/event-stream, connection closed at the end; leave out the final events to simulate a cut). An Event holds
    the answer (or the rest of the stream) until the test sets it, at most HOLD_MAX_S: a test waits for a
    condition instead of sleeping for a guess. A stream reply with "hold_s" then keeps the connection open that
    long, reading it: when the gateway closes it, the time goes to `hung_up[model]`.
    {"dribble": bytes, "every": seconds} sends a JSON answer one byte at a time (its Content-Length first).
    {"fault": name} serves the request broken (tests/support/double_faults.py), as does an upstream model named
    `fault-<name>`.
    Unscripted requests get the protocol handler's default.
    A protocol handler module has `default_reply(double, path, headers, body) -> reply dict` and
    `model_of(path, body) -> str`."""

    def __init__(self, port: int = 0, openai_key: str = "test-openai-key"):
        self.requests: list[Recorded] = []
        self.calls: dict[str, int] = defaultdict(int)
        self.openai_key = openai_key
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", port), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.closed_streams: list[str] = []   # models whose stream the client closed before the end
        self.hung_up: dict[str, float] = {}  # model -> time.monotonic() when the gateway closed a held stream
        # live counts (never reset) and totals (reset by reset())
        self.open_connections = 0
        self.active_streams = 0
        self.totals: dict[str, int] = defaultdict(int)
        # nothing listens here: bound but never listening, so a connection is refused (RST to the SYN)
        self._refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._refused.bind(("127.0.0.1", 0))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def refused_url(self) -> str:
        """An address on which every connection is refused."""
        return f"http://127.0.0.1:{self._refused.getsockname()[1]}"

    def start(self) -> "ProviderDouble":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._refused.close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.calls.clear()
            self.hung_up.clear()
            self._scripts.clear()
            self.totals.clear()

    def enqueue(self, model: str, *replies: dict) -> None:
        with self._lock:
            self._scripts[model].extend(replies)

    def last(self) -> Recorded:
        return self.requests[-1]

    def stats(self) -> dict:
        """open_connections and active_streams now; the totals since the last reset: requests, streams_done
        (sent to their end), streams_cut (the reader went away first), streams_reset (a fault's RST),
        max_active_streams, faults (by name)."""
        with self._lock:
            out = {"open_connections": self.open_connections, "active_streams": self.active_streams}
            out.update({k: v for k, v in self.totals.items() if not k.startswith("fault:")})
            out["faults"] = {k[6:]: v for k, v in self.totals.items() if k.startswith("fault:")}
            return out

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.totals[what] += n

    def count_fault(self, name: str) -> None:
        self.count(f"fault:{name}")

    def wait_for_hangup(self, conn, model: str, limit_s: float | None = None) -> bool:
        """Read `conn` until the other side closes it (True; the time goes to `hung_up[model]`) or `limit_s`
        (HOLD_MAX_S by default) passes (False). Whatever it sends is discarded."""
        deadline = time.monotonic() + (HOLD_MAX_S if limit_s is None else limit_s)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                conn.settimeout(left)
                if conn.recv(65536) == b"":
                    self.hung_up[model] = time.monotonic()
                    return True
        except (OSError, TimeoutError):
            # a reset is a hang-up too; a timeout is not
            if time.monotonic() < deadline:
                self.hung_up[model] = time.monotonic()
                return True
            return False

    def _next_reply(self, model: str) -> dict | None:
        with self._lock:
            self.calls[model] += 1
            self.totals["requests"] += 1
            queue = self._scripts.get(model)
            return queue.popleft() if queue else None

    def _connections(self, n: int) -> None:
        with self._lock:
            self.open_connections += n

    def _streams(self, n: int) -> None:
        with self._lock:
            self.active_streams += n
            self.totals["max_active_streams"] = max(self.totals["max_active_streams"], self.active_streams)

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def setup(self):
                super().setup()
                # headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                double._connections(1)             # (finish() takes it back: it runs once setup() returned)

            def finish(self):
                try:
                    super().finish()
                except OSError:          # a connection a fault reset or closed already
                    pass
                finally:
                    double._connections(-1)

            def _send(self, status: int, body, headers: dict | None = None):
                data = body if isinstance(body, bytes) else (
                    body.encode() if isinstance(body, str) else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, str(v))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _stream(self, reply: dict, model: str):
                self.send_response(reply.get("status", 200))
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding" if reply.get("chunked") else "Connection",
                                 "chunked" if reply.get("chunked") else "close")
                for k, v in (reply.get("headers") or {}).items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.close_connection = True
                double._streams(1)
                ended = "streams_reset" if reply.get("reset") else "streams_done"
                try:
                    self._pieces(reply, model)
                    if reply.get("until_hangup") and double.wait_for_hangup(self.connection, model):
                        ended = "streams_cut"
                except (BrokenPipeError, ConnectionResetError):
                    with double._lock:
                        double.closed_streams.append(model)
                    ended = "streams_cut"
                finally:
                    double._streams(-1)
                    double.count(ended)
                if ended == "streams_cut":
                    return
                if reply.get("reset"):
                    return double_faults._reset(self)
                if reply.get("hold_s"):
                    double.wait_for_hangup(self.connection, model, reply["hold_s"])

            def _pieces(self, reply: dict, model: str):
                """Write the stream's pieces (then, for an endless one, a content event every so often). With
                "chunked", each piece is one chunk of the chunked transfer coding and the last chunk ends it
                (a ("raw", bytes) piece goes out as it is: a cut chunk)."""
                chunked = reply.get("chunked")
                for piece in reply["stream"]:
                    if isinstance(piece, (int, float)):
                        time.sleep(piece)             # a pause inside the stream
                        continue
                    if isinstance(piece, tuple):
                        self.wfile.write(piece[1])
                        self.wfile.flush()
                        return
                    if not isinstance(piece, bytes):  # an Event: silent until the test sets it
                        _hold(piece)
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    self.wfile.flush()
                    if reply.get("chunk_delay"):
                        time.sleep(reply["chunk_delay"])
                if chunked and not reply.get("endless") and not reply.get("reset"):
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                if reply.get("endless"):
                    more = double_faults.endless_piece(reply.get("protocol", "openai"), model)
                    if chunked:
                        more = b"%x\r\n%s\r\n" % (len(more), more)
                    deadline = time.monotonic() + HOLD_MAX_S
                    while time.monotonic() < deadline:
                        time.sleep(reply["endless"])
                        self.wfile.write(more)
                        self.wfile.flush()
                    raise BrokenPipeError("the endless stream was never hung up on")

            def _dribble(self, reply: dict):
                data = reply["dribble"]
                self.send_response(reply.get("status", 200))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    for i in range(len(data)):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        time.sleep(reply["every"])
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                if self.path.split("?", 1)[0] == "/_double/stats":
                    return self._send(200, double.stats())
                return self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                handler = _protocol_for(self.path)
                model = handler.model_of(self.path, body or {}) if handler else (body or {}).get("model", "")
                with double._lock:
                    double.requests.append(Recorded("POST", self.path, dict(self.headers), body))
                reply = double._next_reply(model)
                if reply is not None and reply.get("delay"):
                    time.sleep(reply["delay"])
                if reply is not None and reply.get("hold") is not None:
                    _hold(reply["hold"])
                fault = double_faults.fault_of(model, reply)
                if reply is None or not {"body", "stream", "dribble"} & set(reply):
                    default = handler.default_reply(double, self.path, dict(self.headers), body or {}) \
                        if handler else {"status": 404, "body": {"error": {"message": f"no route {self.path}"}}}
                    reply = {**default, **(reply or {})} if reply else default
                if fault is not None:
                    stream = bool((body or {}).get("stream")) or "streamGenerateContent" in self.path
                    return double_faults.serve(self, double, fault, model, reply, stream)
                if "stream" in reply:
                    return self._stream(reply, model)
                if "dribble" in reply:
                    return self._dribble(reply)
                return self._send(reply.get("status", 200), reply.get("body", {}), reply.get("headers"))

        return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve the double alone until killed (the soak's upstream)."""
    parser = argparse.ArgumentParser(description="The provider double on 127.0.0.1, alone.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--openai-key", default="test-openai-key", help="the bearer key the OpenAI paths take")
    args = parser.parse_args(argv)
    double = ProviderDouble(args.port, args.openai_key)
    print(f"listening {double.port}", flush=True)
    double.server.serve_forever()


if __name__ == "__main__":
    main()
