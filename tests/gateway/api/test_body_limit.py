"""Bodies above the configured maximum (SWITCHYARD_MAX_BODY_BYTES, Flask's MAX_CONTENT_LENGTH) get 413
payload_too_large before they are parsed: a Content-Length above it is refused before a byte of the body is read,
and a chunked body is cut off as it arrives, once past it. Spoken over raw sockets to the live server."""
import json
import socket

import pytest

LIMIT = 4096


@pytest.fixture
def small_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", LIMIT)


def exchange(live, head: str, *chunks: bytes, timeout_s: float = 10) -> tuple[int, dict]:
    """Send `head` and `chunks`, without closing; the status and the JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=timeout_s) as sock:
        sock.sendall(head.encode("latin-1"))
        for chunk in chunks:
            sock.sendall(chunk)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head_out, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head_out.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        while len(body) < length:
            body += sock.recv(65536)
    return int(head_out.split(b" ")[1]), json.loads(body[:length])


def _head(api_key: str, **headers) -> str:
    lines = ["POST /v1/chat/completions HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {api_key}",
             "Content-Type: application/json", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return "\r\n".join(lines) + "\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _body(size: int) -> bytes:
    """A valid chat body of exactly `size` bytes."""
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": ""}]}
    pad = size - len(json.dumps(body).encode())
    body["messages"][0]["content"] = "x" * pad
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


def test_a_content_length_above_the_limit_is_refused_before_the_body_is_sent(live, api_key, small_limit):
    status, body = exchange(live, _head(api_key, Content_Length=10**9))       # not a byte of it follows
    assert status == 413 and body["error"]["code"] == "payload_too_large" and body["error"]["type"] == "payload_too_large"


def test_the_limit_is_exact(live, api_key, small_limit):
    status, answer = exchange(live, _head(api_key, Content_Length=LIMIT), _body(LIMIT))
    assert status == 200, answer
    status, answer = exchange(live, _head(api_key, Content_Length=LIMIT + 1), _body(LIMIT + 1))
    assert status == 413 and answer["error"]["code"] == "payload_too_large"


def test_a_chunked_body_is_cut_off_once_past_the_limit(live, api_key, small_limit):
    # three chunks of 3000 bytes and no final chunk: the answer comes though the body never ends
    status, answer = exchange(live, _head(api_key, Transfer_Encoding="chunked"), *[_chunk(b" " * 3000)] * 3)
    assert status == 413, answer
    assert answer["error"]["message"] == ("The request body is larger than 4096 bytes, the gateway's limit "
                                          "(SWITCHYARD_MAX_BODY_BYTES).") and answer["error"]["code"] == "payload_too_large"


def test_a_chunked_body_within_the_limit_is_served(live, api_key, small_limit):
    raw = _body(LIMIT)
    status, answer = exchange(live, _head(api_key, Transfer_Encoding="chunked"),
                              _chunk(raw[:1000]), _chunk(raw[1000:]), b"0\r\n\r\n")
    assert status == 200 and answer["choices"], answer


def test_responses_has_the_same_limit(live, api_key, small_limit):
    head = _head(api_key, Content_Length=LIMIT + 1).replace("/v1/chat/completions", "/v1/responses")
    status, answer = exchange(live, head, b" " * (LIMIT + 1))
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
