"""The real server: gunicorn with gevent workers from deploy/gunicorn.conf.py, spoken to over HTTP (the `gunicorn`
fixture is in tests/deploy/conftest.py)."""
import signal
import socket

import openai
import pytest
import requests
from sqlalchemy import create_engine, text

def test_gunicorn_gevent_serves_completions_streams_and_flushes_logs_on_shutdown(gunicorn):
    url, key, env, proc = gunicorn
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="openai/gpt-4o-mini",
                                                           messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content == "Echo: hi"
    assert raw.headers["x-gateway-cost-usd"] == "0.000005"    # 12 x 0.15 + 5 x 0.60 per million, rounded
    text_out = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "yo"}], stream=True) if c.choices)
    assert text_out == "Echo: yo"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="sk-sy-wrong", max_retries=0).models.list()
    html = requests.get(f"{url}/no/such/page")
    assert html.status_code == 404 and html.json()["error"]["code"] == "not_found"
    assert requests.delete(f"{url}/v1/chat/completions").json()["error"]["code"] == "method_not_allowed"
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5) as raw:
        raw.sendall(b"NOT A REQUEST\r\n\r\n")                 # what the HTTP server answers itself is JSON too
        answer = raw.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 400") and '"code":"invalid_request"' in answer
    for _ in range(6):                                         # spread over both workers
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    metrics = requests.get(f"{url}/metrics").text              # one worker answers for all of them
    served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                 if line.startswith("switchyard_requests_total{") and 'code="ok"' in line)
    assert served == 8
    proc.send_signal(signal.SIGTERM)                           # graceful: workers flush their log rows
    proc.wait(timeout=30)
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT endpoint, status, stream FROM request_logs ORDER BY id")).all()
    assert sorted((r[1], bool(r[2])) for r in rows) == [(200, False)] * 7 + [(200, True)]   # workers flush apart
