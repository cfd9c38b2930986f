"""Streams under stress, through a real gunicorn: 500 streams open at once, a third of them cut by the client
mid-way. Every cut stream lets its upstream go before the upstream's end, every stream leaves its log row (the
cut ones `client_closed`, 499), nothing stays open at the double, and the workers' memory after the round is back
near its level after a warm-up round of the same shape."""
import http.client
import json
import socket
import threading
import time
import uuid

import pytest
import requests

from tests.support.double import openai_completion, openai_stream
from tests.support.workers import Served

STREAMS = 500
CUT_EVERY = 3                  # stream i is cut when i % CUT_EVERY == 0: a third
CUT_AFTER = 6                  # data events a cut stream reads before it hangs up
CHUNKS = 40                    # content chunks of every upstream stream...
CHUNK_DELAY_S = 0.1            # ...this far apart (after all streams are open): ~4 s of stream
RSS_GROWTH_MAX = 1.25          # the workers' RSS after the stress round over their RSS after the warm-up round


@pytest.fixture(scope="module")
def served(tmp_path_factory, double):
    server = Served(tmp_path_factory.mktemp("stress"), double.url, SWITCHYARD_LOG_FLUSH_INTERVAL_S=0.1,
                    SWITCHYARD_COOLDOWN_FAILURES=10**6)
    yield server
    server.stop()


def _upstream(gate: threading.Event) -> dict:
    """The double's stream: the role chunk and a first content chunk at once, then (when `gate` opens: every
    stream is open) CHUNKS more CHUNK_DELAY_S apart, the finish, the usage and [DONE]."""
    pieces = openai_stream(openai_completion("stress", " ".join(["word"] * CHUNKS)), include_usage=True,
                           pieces=CHUNKS)
    return {"stream": [pieces[0], pieces[1], gate, *pieces[2:]], "chunk_delay": CHUNK_DELAY_S}


def _one(served, request_id: str, cut: bool, results: dict) -> None:
    """One client stream: read it to [DONE], or hang up after CUT_AFTER data events."""
    conn = http.client.HTTPConnection("127.0.0.1", served.gateway.port, timeout=120)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps({
            "model": "local/stress", "stream": True, "messages": [{"role": "user", "content": "go"}]}),
            headers={"Authorization": f"Bearer {served.key}", "Content-Type": "application/json",
                     "X-Request-Id": request_id})
        resp = conn.getresponse()
        if resp.status != 200:
            results[request_id] = f"status {resp.status}: {resp.read()[:200]!r}"
            return
        events = 0
        while True:
            line = resp.readline()
            if not line:
                results[request_id] = f"ended after {events} events without [DONE]"
                return
            if not line.startswith(b"data: "):
                continue
            if line.strip() == b"data: [DONE]":
                results[request_id] = "done"
                return
            if b'"error"' in line:
                results[request_id] = f"error event: {line[:200]!r}"
                return
            events += 1
            if cut and events >= CUT_AFTER:
                conn.sock.shutdown(socket.SHUT_RDWR)
                results[request_id] = "cut"
                return
    except Exception as e:  # noqa: BLE001 - reported per stream
        results[request_id] = f"{type(e).__name__}: {e}"
    finally:
        conn.close()


def _round(served, double) -> dict:
    """STREAMS at once, every CUT_EVERY-th one cut; returns what happened to each and at the double."""
    double.reset()
    connections_before = double.open_connections
    gate = threading.Event()
    double.enqueue("stress", *[_upstream(gate)] * STREAMS)
    run = uuid.uuid4().hex[:8]
    ids = [f"stress-{run}-{i}" for i in range(STREAMS)]
    results: dict[str, str] = {}
    clients = [threading.Thread(target=_one, args=(served, rid, i % CUT_EVERY == 0, results))
               for i, rid in enumerate(ids)]
    for c in clients:
        c.start()
    deadline = time.monotonic() + 60
    while double.active_streams < STREAMS and time.monotonic() < deadline and len(results) < STREAMS:
        time.sleep(0.05)
    all_open = double.active_streams
    gate.set()
    for c in clients:
        c.join(120)
    deadline = time.monotonic() + 30
    while (double.active_streams or double.open_connections > connections_before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"ids": ids, "results": results, "all_open": all_open, "stats": double.stats(),
            "connections_before": connections_before, "connections_after": double.open_connections}


def test_500_streams_a_third_cut_leave_nothing_behind(served, double):
    warm = _round(served, double)
    _settle(served)
    rss_warm = served.worker_rss_kb()
    stress = _round(served, double)
    _settle(served)
    rss_after = served.worker_rss_kb()

    for r in (warm, stress):
        cut = [rid for i, rid in enumerate(r["ids"]) if i % CUT_EVERY == 0]
        whole = [rid for i, rid in enumerate(r["ids"]) if i % CUT_EVERY != 0]
        assert r["all_open"] == STREAMS, f"only {r['all_open']} upstream streams were open at once"
        wrong = {rid: r["results"].get(rid) for rid in r["ids"]
                 if r["results"].get(rid) != ("cut" if rid in cut else "done")}
        assert not wrong, f"{len(wrong)} streams went wrong, e.g. {list(wrong.items())[:5]}"
        # every cut stream's upstream was let go before its end: the double saw the hang-up, not the end
        assert (r["stats"].get("streams_cut", 0), r["stats"].get("streams_done", 0)) == (len(cut), len(whole))
        assert r["stats"]["active_streams"] == 0
        assert r["connections_after"] == r["connections_before"]
        rows = served.rows(r["ids"])
        assert len(rows) == STREAMS, f"{STREAMS - len(rows)} streams have no log row"
        assert {(rows[rid].status, rows[rid].error_code) for rid in cut} == {(499, "client_closed")}
        assert {(rows[rid].status, rows[rid].error_code, rows[rid].usage_known) for rid in whole} == {
            (200, None, True)}
    assert served.worker_pids() == set(rss_warm), "a worker was replaced during the run"
    grown = {pid: rss_after[pid] / rss_warm[pid] for pid in rss_warm}
    assert all(g <= RSS_GROWTH_MAX for g in grown.values()), (
        f"worker RSS after the warm-up round {rss_warm} KiB, after the stress round {rss_after} KiB")


def _settle(served) -> None:
    """The workers have nothing in flight (their log writers flushed): the in-flight gauges read 0."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = requests.get(f"{served.url}/metrics", timeout=10).text
        gauges = [line for line in text.splitlines()
                  if line.startswith(("switchyard_streams_in_flight", "switchyard_requests_in_flight",
                                      "switchyard_log_queue_rows"))]
        if gauges and all(float(line.rsplit(" ", 1)[1]) == 0 for line in gauges):
            return
        time.sleep(0.2)
    raise AssertionError(f"still in flight after 30 s: {gauges}")
