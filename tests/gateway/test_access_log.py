"""The JSON access log: its fields, that it never carries a secret or a prompt, one whole line per write under
concurrency, the setting's validation, and the line a real request leaves on stdout."""
import json
import os
import time
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests
from gevent import monkey
from gevent.threadpool import ThreadPool

from app import create_app
from gateway.access_log import AccessLog, access_entry, access_line
from gateway.config import Settings, validate_observability
from gateway.values import Usage
from gateway.record import Attempt, RequestRecord

PROMPT = "my very private prompt 4711"


def _record(**kw) -> RequestRecord:
    rec = RequestRecord(request_id="req_abc", endpoint="chat.completions", t_arrival=time.perf_counter() - 0.5)
    rec.key_id, rec.key_prefix, rec.requested_model = 7, "sk-sy-AbCdEf", "smart"
    rec.provider, rec.upstream_model, rec.upstream_ms = "openai", "gpt-4o", 120.0
    rec.usage = Usage(prompt_tokens=12, completion_tokens=5, cached_tokens=2, reasoning_tokens=1)
    rec.cost = Decimal("0.0000048")
    rec.attempts = [Attempt("openai/gpt-4o", 200, None, None, 120.0)]
    for k, v in kw.items():
        setattr(rec, k, v)
    return rec


def test_an_entry_has_every_field_in_its_shape():
    now = datetime(2026, 11, 22, 3, 4, 5, 678000, tzinfo=timezone.utc)
    entry = access_entry(_record(client_request_id="client-1", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01"),
                         0.5, now)
    assert entry == {
        "time": "2026-11-22T03:04:05.678Z", "request_id": "client-1", "gateway_request_id": "req_abc",
        "key_prefix": "sk-sy-AbCdEf", "endpoint": "chat.completions", "requested_model": "smart",
        "provider": "openai", "upstream_model": "gpt-4o", "stream": False, "status": 200, "error_code": None,
        "attempts": 1, "duration_ms": 500.0, "latency_ms": 120.0, "overhead_ms": 380.0,
        "tokens": {"prompt": 12, "completion": 5, "cached": 2, "reasoning": 1},
        "cost_usd": "0.000005", "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    }


def test_unknown_usage_and_cost_are_null_and_our_id_stands_in_for_a_missing_client_id():
    entry = access_entry(_record(usage=None, cost=None, status=502, error_code="provider_unavailable"), 0.1)
    assert entry["tokens"] is None and entry["cost_usd"] is None
    assert entry["request_id"] == entry["gateway_request_id"] == "req_abc"
    assert (entry["status"], entry["error_code"]) == (502, "provider_unavailable")
    assert datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).tzinfo is not None


def test_a_line_is_one_json_object_ending_in_one_newline_and_clips_a_huge_model_name():
    line = access_line(_record(requested_model="m\n" + "x" * 5000), 0.2)
    assert line.endswith(b"\n") and line.count(b"\n") == 1          # a newline in a value is escaped
    assert len(json.loads(line)["requested_model"]) == 200


def test_lines_from_concurrent_writers_never_interleave():
    # native threads (gevent's pool of them: this process is patched, its threading.Thread is a greenlet), so the
    # writes really run at once, and a reader blocked in os.read or a writer in a full pipe blocks only itself.
    # The pipe is closed with the unpatched os.close: gevent's defers the close to its event loop, which has
    # nothing else to wake it, so the reader would never see the end.
    close = monkey.get_original("os", "close")
    read_fd, write_fd = os.pipe()
    log = AccessLog(write_fd)
    pool = ThreadPool(9)
    reader = pool.spawn(lambda: b"".join(iter(lambda: os.read(read_fd, 65536), b"")))

    def write_many(n):
        rec = _record(requested_model=f"model-{n}-" + "y" * 150)
        for _ in range(200):
            log.write(rec, 0.01)
    writers = [pool.spawn(write_many, n) for n in range(8)]
    for w in writers:
        w.get(timeout=30)
    close(write_fd)
    data = reader.get(timeout=30)
    close(read_fd)
    pool.kill()
    lines = data.split(b"\n")
    assert lines[-1] == b""
    parsed = [json.loads(x) for x in lines[:-1]]
    assert len(parsed) == 1600
    assert {p["requested_model"].split("-")[1] for p in parsed} == {str(n) for n in range(8)}


@pytest.mark.parametrize("value, stored", [("json", "json"), ("JSON", "json"), ("", ""), ("off", ""), (" Off ", "")])
def test_the_setting_takes_json_or_off(value, stored):
    s = Settings(ACCESS_LOG=value)
    validate_observability(s)
    assert s.ACCESS_LOG == stored


@pytest.mark.parametrize("value", ["-", "true", "/var/log/access.log", "jsonl"])
def test_any_other_value_stops_start_up_naming_the_variable(value, monkeypatch, tmp_path):
    monkeypatch.setenv("SWITCHYARD_ACCESS_LOG", value)
    with pytest.raises(ValueError, match="SWITCHYARD_ACCESS_LOG") as info:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "INSTANCE_DIR": str(tmp_path)})
    assert repr(value) in str(info.value)


def test_json_turns_the_access_log_on_and_its_absence_leaves_it_off(monkeypatch, tmp_path):
    monkeypatch.setenv("SWITCHYARD_ACCESS_LOG", "json")
    on = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "INSTANCE_DIR": str(tmp_path)})
    assert isinstance(on.extensions["switchyard"].access_log, AccessLog)
    monkeypatch.delenv("SWITCHYARD_ACCESS_LOG")
    off = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "INSTANCE_DIR": str(tmp_path)})
    assert off.extensions["switchyard"].access_log is None


def _lines_for(capfd, request_id: str, wait_s: float = 5.0) -> list[dict]:
    """Access log lines of one request on fd 1 (a stream's comes when its relay ends, just after the client)."""
    seen = ""
    deadline = time.time() + wait_s
    while True:
        seen += capfd.readouterr().out
        found = [json.loads(x) for x in seen.splitlines() if x.startswith("{") and request_id in x]
        if found or time.time() > deadline:
            return found
        time.sleep(0.05)


def test_a_request_writes_one_line_on_stdout_without_secret_or_prompt(live, api_key, services, monkeypatch, capfd):
    monkeypatch.setattr(services, "access_log", AccessLog())
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]})
    assert resp.status_code == 200
    rid = resp.headers["x-request-id"]
    lines = _lines_for(capfd, rid)
    assert len(lines) == 1
    line = lines[0]
    assert line["key_prefix"] == api_key[:12] and line["request_id"] == rid
    assert (line["provider"], line["upstream_model"], line["status"], line["error_code"]) == \
        ("openai", "gpt-4o-mini", 200, None)
    assert line["tokens"] == {"prompt": 12, "completion": 5, "cached": 0, "reasoning": 0}
    assert line["cost_usd"] == resp.headers["x-gateway-cost-usd"]
    raw = json.dumps(line)
    assert api_key not in raw and PROMPT not in raw and "test-openai-key" not in raw


def test_a_stream_writes_its_line_at_its_end(live, api_key, services, monkeypatch, capfd):
    monkeypatch.setattr(services, "access_log", AccessLog())
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"model": "openai/gpt-4o-mini", "stream": True,
                               "messages": [{"role": "user", "content": PROMPT}]})
    assert resp.status_code == 200 and resp.text.rstrip().endswith("data: [DONE]")
    lines = _lines_for(capfd, resp.headers["x-request-id"])
    assert len(lines) == 1
    assert lines[0]["stream"] is True and lines[0]["tokens"]["prompt"] == 12 and lines[0]["cost_usd"] is not None
    assert PROMPT not in json.dumps(lines[0])


def test_a_refused_request_is_logged_too_and_nothing_is_written_when_off(live, api_key, services, monkeypatch,
                                                                         capfd):
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": "Bearer sk-sy-wrong"},
                         json={"model": "openai/gpt-4o-mini", "messages": []})
    assert services.access_log is None and _lines_for(capfd, resp.headers["x-request-id"], 0.3) == []
    monkeypatch.setattr(services, "access_log", AccessLog())
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": "Bearer sk-sy-wrong"},
                         json={"model": "openai/gpt-4o-mini", "messages": []})
    lines = _lines_for(capfd, resp.headers["x-request-id"])
    assert [(x["status"], x["error_code"], x["key_prefix"], x["provider"]) for x in lines] == \
        [(401, "auth_invalid", None, None)]
