"""deploy/nginx/switchyard.conf in Debian's real nginx (package `nginx`), run as this user with a temporary prefix
on a free port, in front of a recording upstream (headers, keep-alive, back-pressure) and of a real gunicorn
gateway (a completion with the client's X-Request-Id, a slow stream whose chunks arrive one by one).

The site file is used as it is, with its two deployment-specific lines rewritten: the upstream `server` (to this
test's server, as compose.yaml points it at the replicas) and `listen 80` (to a free loopback port). Skipped when
nginx is not installed, unless CI is set: then it must run."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
import requests

from gateway.config import Settings
from tests.deploy.deploy_parse import read
from tests.deploy.gateway_proc import free_port
from tests.support.double import slow_openai_stream


def _nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.path.exists(p)), None)
    if not found:
        reason = "nginx is not installed (Debian package nginx)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so these tests must run", pytrace=False)
        pytest.skip(reason)
    return found


def site_for(upstream: str, port: int) -> str:
    """The site file with its upstream server and its listen address rewritten (each must be there once)."""
    text = read("deploy", "nginx", "switchyard.conf")
    text, n_server = re.subn(r"(?m)^(\s*)server 127\.0\.0\.1:8080;", rf"\g<1>server {upstream};", text)
    text, n_listen = re.subn(r"(?m)^(\s*)listen 80;", rf"\g<1>listen 127.0.0.1:{port};", text)
    assert (n_server, n_listen) == (1, 1), "the site file's upstream server or listen line moved"
    return text


class Nginx:
    def __init__(self, binary: str, prefix, upstream: str):
        self.binary, self.prefix = binary, prefix
        self.port = free_port()
        prefix.mkdir(exist_ok=True)
        (prefix / "switchyard.conf").write_text(site_for(upstream, self.port))
        temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # as root, nginx's workers would switch to `nobody`, who cannot enter pytest's private temp directory
        user = "user root;\n" if os.geteuid() == 0 else ""
        (prefix / "nginx.conf").write_text(f"""{user}worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
{temp}
    # The gateway's own "X-Accel-Buffering: no" turns buffering off by itself; ignored here, so that these tests
    # exercise the site's own proxy_buffering.
    proxy_ignore_headers X-Accel-Buffering;
    include {prefix}/switchyard.conf;
}}
""")
        self.proc: subprocess.Popen | None = None

    def argv(self, *extra: str) -> list[str]:
        return [self.binary, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), *extra]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def test_config(self) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv("-t", "-g", f"pid {self.prefix}/nginx.pid; error_log {self.prefix}/error.log;"),
                              capture_output=True, text=True, timeout=30)

    def start(self) -> "Nginx":
        self.proc = subprocess.Popen(
            self.argv("-g", f"daemon off; pid {self.prefix}/nginx.pid; error_log {self.prefix}/error.log info;"),
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited with {self.proc.returncode}:\n{self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nginx did not listen:\n{self.errors()}")

    def errors(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)          # fast shutdown of the master and its worker
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def nginx_for(tmp_path):
    binary = _nginx_binary()
    started = []

    def make(upstream: str) -> Nginx:
        n = Nginx(binary, tmp_path / f"nginx{len(started)}", upstream)
        started.append(n)
        return n
    yield make
    for n in started:
        n.stop()


class Recorder:
    """An HTTP/1.1 upstream that answers 200 and writes down each request's headers and the connection it came on."""

    FLOOD_BYTES = 64 * 1024 * 1024   # far more than the sockets between the two hold (about 7 MB here)

    def __init__(self):
        self.seen: list[dict] = []
        self.flood = {"written": 0, "done": False}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _flood(self):
                """A long event stream as fast as the socket takes it, counting what was written."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(recorder.FLOOD_BYTES))
                self.end_headers()
                block = b": " + b"x" * 65533 + b"\n"
                try:
                    while recorder.flood["written"] < recorder.FLOOD_BYTES:
                        self.wfile.write(block)
                        recorder.flood["written"] += len(block)
                    recorder.flood["done"] = True
                except OSError:
                    pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.seen.append({"path": self.path, "version": self.request_version,
                                      "peer": self.client_address, "headers": dict(self.headers.items())})
                if self.path == "/flood":
                    return self._flood()
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def test_nginx_accepts_the_site_file(nginx_for, recorder):
    out = nginx_for(recorder.address).test_config()
    assert out.returncode == 0 and "test is successful" in out.stderr, out.stderr


def test_nginx_passes_the_request_id_and_keeps_one_upstream_connection_alive(nginx_for, recorder):
    nginx = nginx_for(recorder.address).start()
    for i in range(3):                                   # a new client connection each time
        r = requests.get(f"{nginx.url}/v1/models", headers={"X-Request-Id": f"client-req-{i}"}, timeout=10)
        assert r.status_code == 200 and r.json() == {"ok": True}
    requests.post(f"{nginx.url}/v1/chat/completions", json={"model": "m"}, timeout=10)   # no id of its own
    assert [s["headers"].get("X-Request-Id") for s in recorder.seen[:3]] == [f"client-req-{i}" for i in range(3)]
    assert re.fullmatch(r"[0-9a-f]{32}", recorder.seen[3]["headers"]["X-Request-Id"])  # nginx's $request_id
    assert {s["version"] for s in recorder.seen} == {"HTTP/1.1"}
    assert all(s["headers"].get("Connection", "").lower() != "close" for s in recorder.seen)
    assert len({s["peer"] for s in recorder.seen}) == 1, "each request opened a new upstream connection"
    assert recorder.seen[0]["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert recorder.seen[0]["headers"]["X-Forwarded-Proto"] == "http"


def test_nginx_answers_a_body_over_the_gateways_limit_in_the_error_envelope(nginx_for, recorder):
    nginx = nginx_for(recorder.address).start()
    limit = Settings().MAX_BODY_BYTES
    with socket.create_connection(("127.0.0.1", nginx.port), timeout=10) as s:   # the header alone is enough
        s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {limit + 1}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            piece = s.recv(65536)
            if not piece:
                break
            answer += piece
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert recorder.seen == []


def test_nginx_answers_an_unreachable_gateway_in_the_error_envelope(nginx_for):
    n = nginx_for(f"127.0.0.1:{free_port()}").start()        # nothing listens there
    r = requests.post(f"{n.url}/v1/chat/completions", json={"model": "m", "messages": []}, timeout=10)
    assert r.status_code == 503 and r.headers["content-type"] == "application/json"
    assert r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "unavailable"


def test_a_client_that_stops_reading_holds_the_upstream_back(nginx_for, recorder):
    """proxy_buffering off: nginx reads from the gateway only as fast as the client takes it. Buffered, nginx would
    spool the stream to disk (up to 1 GB) and the gateway would go on streaming to a client that is gone. (With a
    client that keeps up, nginx 1.22 forwards each chunk at once either way, so the timing test below cannot tell.)"""
    nginx = nginx_for(recorder.address).start()
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        client.connect(("127.0.0.1", nginx.port))
        client.sendall(b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")  # and then reads nothing
        # until nginx stops taking from the upstream (nothing more written for 0.5 s) or took it all; buffered, it
        # goes on at disk speed to the end (within the 5 s bound)
        deadline, last, still_since = time.time() + 5, -1, time.time()
        while time.time() < deadline and not recorder.flood["done"]:
            written = recorder.flood["written"]
            if written != last:
                last, still_since = written, time.time()
            elif time.time() - still_since >= 0.5:
                break
            time.sleep(0.05)
    finally:
        client.close()
    assert not recorder.flood["done"], "nginx took the whole stream from the upstream for a client that reads nothing"
    assert recorder.flood["written"] < recorder.FLOOD_BYTES / 2


def test_completion_and_a_slow_stream_through_nginx_to_gunicorn(gunicorn, double, nginx_for):
    url, key, _, _ = gunicorn
    nginx = nginx_for(url.removeprefix("http://")).start()
    client = openai.OpenAI(base_url=f"{nginx.url}/v1", api_key=key, max_retries=0, timeout=20)

    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Request-Id": "client-req-42"})
    assert raw.parse().choices[0].message.content == "Echo: hi"
    assert raw.headers["x-gateway-provider"] == "openai"

    words = "one two three four five six"
    double.enqueue("gpt-4o-mini", slow_openai_stream("gpt-4o-mini", words, pause_s=0.1))
    t0 = time.perf_counter()
    arrivals, text = [], ""
    for chunk in client.chat.completions.create(model="openai/gpt-4o-mini", stream=True,
                                                messages=[{"role": "user", "content": "count"}]):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter() - t0)
            text += chunk.choices[0].delta.content
    assert text == words
    assert arrivals[-1] > 0.5                            # the double really streamed slowly (0.1 s pauses)
    # each chunk reached the client as the gateway sent it, not all at once at the end
    assert arrivals[0] < arrivals[-1] / 2, f"content deltas arrived at {arrivals}"

    # the gateway keeps the client's id as its own (README, response headers: x-request-id)
    assert raw.headers["x-request-id"] == "client-req-42"
