"""SWITCHYARD_MAX_BODY_BYTES on the real server (gunicorn from deploy/gunicorn.conf.py, gevent workers): a body
above it is a 413 in the envelope, by its Content-Length or, chunked, once past it; a value that is no size stops
the start naming the variable."""
import os
import subprocess
import sys

import pytest
import requests

from tests.deploy.gateway_proc import ROOT, start_gunicorn

LIMIT = 4096


def _chat(size: int) -> bytes:
    pad = size - len(b'{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": ""}]}')
    return b'{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "' + b"x" * pad + b'"}]}'


def test_gunicorn_refuses_bodies_above_the_limit(tmp_path, double):
    server, key = start_gunicorn(tmp_path, double.url, SWITCHYARD_MAX_BODY_BYTES=LIMIT)
    try:
        url, headers = f"{server.url}/v1/chat/completions", {"Authorization": f"Bearer {key}",
                                                              "Content-Type": "application/json"}
        assert requests.post(url, data=_chat(LIMIT), headers=headers, timeout=20).status_code == 200
        over = requests.post(url, data=_chat(LIMIT + 1), headers=headers, timeout=20)
        assert over.status_code == 413 and over.json()["error"]["code"] == "payload_too_large"
        assert "SWITCHYARD_MAX_BODY_BYTES" in over.json()["error"]["message"]
        chunked = requests.post(url, data=iter([_chat(LIMIT + 2000)[i:i + 1000] for i in range(0, LIMIT + 2000, 1000)]),
                                headers=headers, timeout=20)          # a generator: Transfer-Encoding: chunked
        assert chunked.request.headers.get("Transfer-Encoding") == "chunked"
        assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "payload_too_large"
        small = requests.post(url, data=iter([_chat(LIMIT)[:2000], _chat(LIMIT)[2000:]]), headers=headers, timeout=20)
        assert small.status_code == 200 and small.json()["choices"]
    finally:
        server.stop()


def test_a_refused_body_is_not_read_to_its_end(tmp_path, double):
    """A client announcing a gigabyte gets its 413 and the connection closes within about a second: the worker does
    not read (or wait for) the rest of the body, however large it says it is."""
    import socket
    import time
    server, key = start_gunicorn(tmp_path, double.url, SWITCHYARD_MAX_BODY_BYTES=LIMIT)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {10**9}\r\n\r\n".encode() + b"x" * 65536)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413")
        t0 = time.monotonic()
        while True:                                   # send nothing more: the server closes on its own
            data = sock.recv(65536)
            if not data:
                break
        assert time.monotonic() - t0 < 8
        sock.close()
        assert requests.post(f"{server.url}/v1/chat/completions", data=_chat(100),
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                             timeout=20).status_code == 200          # the worker serves on
    finally:
        server.stop()


@pytest.mark.parametrize("value, says", [
    ("100", "SWITCHYARD_MAX_BODY_BYTES must be 1024 or more"),
    ("32MB", "SWITCHYARD_MAX_BODY_BYTES must be a whole number; got '32MB'"),
    ("-5", "SWITCHYARD_MAX_BODY_BYTES must be 1024 or more"),
])
def test_a_bad_limit_stops_the_start_naming_the_variable(value, says):
    env = {**os.environ, "SWITCHYARD_MAX_BODY_BYTES": value}
    out = subprocess.run([sys.executable, "-m", "gateway.startup"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0 and says in out.stderr and "Traceback" not in out.stderr
