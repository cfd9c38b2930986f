"""SIGTERM to the gunicorn master with 20 slow streams in flight: each one finishes (default grace) or ends with a
`shutting_down` error event (a grace shorter than the streams), and every request's log row is in the database."""
import json
import pathlib
import re
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support.double import slow_openai_stream
from tests.support.procs import Gateway, fresh_database_url, prepared_env

STREAMS = 20
STREAM_S = 3.0          # a stream's length when the grace (1 s) must run out before it ends
FINISHING_S = 2.0       # ... and when the default grace lets it finish (every stream is still in flight at SIGTERM)
TEXT = "one two three four five six"


def _read_stream(url: str, key: str, model: str, out: dict, i: int) -> None:
    t0 = time.monotonic()
    events, error = [], None
    try:
        with requests.post(f"{url}/v1/chat/completions", stream=True, timeout=30,
                           headers={"Authorization": f"Bearer {key}"},
                           json={"model": model, "stream": True, "stream_options": {"include_usage": True},
                                 "messages": [{"role": "user", "content": "count"}]}) as r:
            out.setdefault("ids", {})[i] = r.headers.get("x-request-id")
            for line in r.iter_lines():
                if line.startswith(b"data: "):
                    events.append(line[6:].decode())
                    if len(events) == 1:
                        out["started"].append(i)
    except requests.RequestException as e:   # a cut connection is a failure of the test, recorded
        error = repr(e)
    out[i] = {"events": events, "error": error, "s": time.monotonic() - t0}


@pytest.fixture
def server_factory(tmp_path, double):
    started = []

    def make(grace_s: int) -> tuple[Gateway, str, str]:
        db = fresh_database_url(tmp_path, f"shutdown{grace_s}")
        env, key = prepared_env(tmp_path, double.url, db, SWITCHYARD_GRACEFUL_TIMEOUT=grace_s,
                                SWITCHYARD_LOG_FLUSH_INTERVAL_S=30)
        gw = Gateway(env, tmp_path / f"gunicorn-{grace_s}.log").start()
        started.append(gw)
        return gw, key, db
    yield make
    for gw in started:
        gw.kill()


def _run(server_factory, double, grace_s: int, stream_s: float):
    gw, key, db = server_factory(grace_s)
    model = "slow-stream"
    double.enqueue(model, *[slow_openai_stream(model, TEXT, total_s=stream_s) for _ in range(STREAMS)])
    out: dict = {"started": []}
    threads = [threading.Thread(target=_read_stream, args=(gw.url, key, f"local/{model}", out, i))
               for i in range(STREAMS)]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while len(out["started"]) < STREAMS and time.time() < deadline:
        time.sleep(0.02)
    assert double.calls.get(model, 0) == STREAMS, "not every stream reached the upstream"
    assert len(out["started"]) == STREAMS, "not every client has its first chunk"
    assert not any(i in out for i in range(STREAMS)), "a stream ended before SIGTERM: it tests nothing"
    t_term = time.monotonic()
    gw.terminate()
    for t in threads:
        t.join(timeout=30)
    code = gw.wait(30)
    stopped_s = time.monotonic() - t_term
    engine = create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT request_id, status, error_code, stream, completion_tokens "
                                 "FROM request_logs")).all()
    engine.dispose()
    return out, rows, code, stopped_s, gw


def test_default_grace_lets_every_stream_finish_and_keeps_every_log_row(server_factory, double):
    out, rows, code, stopped_s, gw = _run(server_factory, double, 300, FINISHING_S)
    assert code == 0, gw.output()[-3000:]
    for i in range(STREAMS):
        r = out[i]
        assert r["error"] is None, r
        assert r["events"][-1] == "[DONE]", r
        text_out = "".join(c["choices"][0]["delta"].get("content") or ""
                           for c in map(json.loads, r["events"][:-1]) if c.get("choices"))
        assert text_out == TEXT
    assert stopped_s < 10, "the master waited for something other than the streams"
    left = [p.name for p in (pathlib.Path(gw.env["TMPDIR"])).iterdir()]
    assert left == [], f"the server left temporary directories behind: {left}"
    assert len(rows) == STREAMS and {r.request_id for r in rows} == set(out["ids"].values())
    assert all(r.status == 200 and r.error_code is None and r.completion_tokens == 5 for r in rows), rows


def test_a_grace_shorter_than_the_streams_ends_each_with_an_error_event_and_keeps_every_log_row(
        server_factory, double):
    out, rows, code, stopped_s, gw = _run(server_factory, double, 1, STREAM_S)
    assert stopped_s < 1.5, f"the master took {stopped_s:.2f} s: the workers did not exit within the grace"
    log = gw.output()
    assert "Traceback" not in log and "SIGKILL" not in log, log[-3000:]
    for i in range(STREAMS):
        r = out[i]
        assert r["error"] is None, r                       # the connection ended cleanly, after the error event
        last = json.loads(r["events"][-1])
        assert last["error"]["code"] == "shutting_down", r
        assert r["s"] < STREAM_S                           # cut, not finished
        assert any(json.loads(e).get("choices") for e in r["events"][:-1])   # it had started
    assert len(rows) == STREAMS and {r.request_id for r in rows} == set(out["ids"].values())
    assert all(r.stream and r.error_code == "shutting_down" for r in rows), rows
    assert sum(int(n) for n in re.findall(r"cut (\d+) streams", log)) == STREAMS   # each worker says how many
