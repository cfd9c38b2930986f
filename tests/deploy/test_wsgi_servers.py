"""Legacy WSGI hosting: `wsgi:app` is a plain WSGI callable, and its import does not need gevent. The API's smoke
tests (a completion, a stream, errors) pass under gunicorn's threaded worker (gthread, with deploy/gunicorn.conf.py
and its hooks) and under waitress; each flushes its log rows when stopped; and with N threads the N+1-th request
waits while N streams are open (the cost of a thread per stream, deploy/README.md)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import openai
import pytest
import requests
from sqlalchemy import create_engine, text

from gateway import db
from tests.deploy.gateway_proc import ROOT, ServerProc, free_port, prepared_env, start_gunicorn
from tests.support.double import slow_openai_stream

THREADS = 2
# Log rows are written only at shutdown here (the background flush waits 30 s): rows in the database after a stop
# prove that the server's exit path flushed them.
QUIET_FLUSH = {"SWITCHYARD_LOG_FLUSH_INTERVAL_S": 30}


def test_importing_wsgi_does_not_import_gevent(tmp_path):
    code = ("import json, sys, wsgi; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('gevent', 'greenlet'))))")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "SWITCHYARD_INSTANCE_DIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    db.upgrade(env["DATABASE_URL"])                    # wsgi refuses a database without the schema
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _waitress(tmp_path, double_url: str) -> tuple[ServerProc, str]:
    port = free_port()
    env, key = prepared_env(tmp_path, double_url, **QUIET_FLUSH)
    argv = [sys.executable, "deploy/waitress_serve.py", f"--listen=127.0.0.1:{port}", f"--threads={THREADS}",
            "wsgi:app"]
    return ServerProc(argv, env, port, tmp_path / "waitress.log").start(), key


def _gthread(tmp_path, double_url: str) -> tuple[ServerProc, str]:
    # one worker, so that THREADS bounds the whole server as it does waitress
    return start_gunicorn(tmp_path, double_url, "--threads", str(THREADS), SWITCHYARD_WORKER_CLASS="gthread",
                          WEB_CONCURRENCY=1, **QUIET_FLUSH)


# both stop on SIGTERM, as a service manager stops them: gunicorn's graceful path (the worker_exit hook flushes the
# rows); waitress through deploy/waitress_serve.py, which turns SIGTERM into its Ctrl-C path (waitress-serve alone
# has no SIGTERM handler: Python's default killed it and the queued rows were lost), and the app's atexit flush.
SERVERS = {"gthread": (_gthread, signal.SIGTERM), "waitress": (_waitress, signal.SIGTERM)}


@pytest.fixture(params=sorted(SERVERS))
def threaded(request, tmp_path, double):
    start, stop_signal = SERVERS[request.param]
    server, key = start(tmp_path, double.url)
    yield request.param, server, key, stop_signal
    server.kill()


def _rows(env) -> list[tuple]:
    engine = create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT status, stream FROM request_logs ORDER BY id"))]
    finally:
        engine.dispose()


def test_api_smoke_under_a_threaded_server(threaded):
    name, server, key, stop_signal = threaded
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=20)
    raw = client.chat.completions.with_raw_response.create(model="openai/gpt-4o-mini",
                                                           messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content == "Echo: hi"
    assert raw.headers["x-gateway-cost-usd"] == "0.000005"
    with client.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "yo"}],
                                        stream=True) as stream:
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed == "Echo: yo"
    with pytest.raises(openai.AuthenticationError) as denied, \
            openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-sy-wrong", max_retries=0) as stranger:
        stranger.models.list()
    assert denied.value.body["code"] == "auth_invalid"
    with pytest.raises(openai.BadRequestError) as unknown:
        client.chat.completions.create(model="nowhere/nothing", messages=[{"role": "user", "content": "x"}])
    assert unknown.value.body["code"] in ("model_not_supported", "route_not_found")
    missing = requests.get(f"{server.url}/no/such/page", headers={"Connection": "close"}, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    # no client connection left kept alive (closed above, or asked to close): gunicorn's gthread worker would
    # hold its stop for one for up to 2 s
    client.close()

    assert _rows(server.env) == []                     # nothing flushed yet (30 s interval)
    assert server.stop(stop_signal) is not None
    rows = _rows(server.env)
    assert sorted((status, bool(stream)) for status, stream in rows if status == 200) == [(200, False), (200, True)]
    log = server.output()
    assert "Traceback" not in log and "warming the worker failed" not in log, log


def test_with_every_thread_holding_a_stream_the_next_request_waits(threaded, double):
    name, server, key, _ = threaded
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "quick"}]}

    def completion_s() -> float:
        t0 = time.perf_counter()
        r = requests.post(f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=20)
        assert r.status_code == 200, r.text
        return time.perf_counter() - t0

    completion_s()                                      # warm
    free = completion_s()
    stream_s = 1.5
    double.enqueue("gpt-4o-mini", *[slow_openai_stream("gpt-4o-mini", "a b c d", total_s=stream_s) for _ in range(THREADS)])
    started, ended = threading.Barrier(THREADS + 1), []

    def stream():
        with requests.post(f"{server.url}/v1/chat/completions", headers=headers, stream=True, timeout=20,
                           json={"model": "openai/gpt-4o-mini", "stream": True,
                                 "messages": [{"role": "user", "content": "slow"}]}) as r:
            lines = r.iter_lines()
            next(line for line in lines if line.startswith(b"data: "))
            started.wait(timeout=10)
            for _ in lines:
                pass
        ended.append(time.perf_counter())
    workers = [threading.Thread(target=stream, daemon=True) for _ in range(THREADS)]
    for w in workers:
        w.start()
    started.wait(timeout=10)                            # every thread of the server now holds a stream
    t_sent = time.perf_counter()
    waited = completion_s()
    t_done = t_sent + waited
    for w in workers:
        w.join(timeout=20)
    assert len(ended) == THREADS
    assert free < 1.0
    # the request was served only once a stream had ended and freed its thread
    assert t_done >= min(ended) - 0.05 and waited > 0.5, (name, free, waited)
