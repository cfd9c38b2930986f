"""Prices with history through real requests: a price change between two requests leaves two frozen costs that
point at two price rows, a scheduled price takes effect at its time, importing the same file twice adds nothing,
and a different price on a date that has one is refused."""
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from gateway import config_file
from models import PriceRow
from tests.support.logs import log_row

SLUG = "local/priced"


def _import(services, text: str) -> None:
    with services.sessionmaker() as s, s.begin():
        config_file.apply(s, config_file.parse(text), services.box)
    services.catalog.refresh()


def _ask(live, api_key) -> requests.Response:
    r = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"}, timeout=10,
                      json={"model": SLUG, "messages": [{"role": "user", "content": "Hello"}]})
    assert r.status_code == 200, r.text
    return r


def _model(**prices) -> str:
    lines = "".join(f"    {k}: {v}\n" for k, v in prices.items())
    return f"models:\n  - id: {SLUG}\n    upstream: tuned-7b\n{lines}"


def test_a_price_change_leaves_two_frozen_costs_on_two_rows(live, api_key, services):
    _import(services, _model(input_per_mtok=1, output_per_mtok=2))
    first = log_row(services, _ask(live, api_key).headers["x-request-id"])
    _import(services, _model(input_per_mtok=3, output_per_mtok=4))
    second = log_row(services, _ask(live, api_key).headers["x-request-id"])
    assert first.price_id != second.price_id
    assert first.cost_usd == Decimal(12 * 1 + 5 * 2) / 10**6 and second.cost_usd == Decimal(12 * 3 + 5 * 4) / 10**6
    with services.sessionmaker() as s:
        rows = {r.id: r for r in s.scalars(select(PriceRow).where(PriceRow.slug == SLUG))}
    assert rows[first.price_id].input_per_mtok == 1 and rows[second.price_id].input_per_mtok == 3
    assert rows[second.price_id].version == rows[first.price_id].version + 1


def test_a_scheduled_price_takes_effect_at_its_time_and_imports_are_idempotent(live, api_key, services):
    soon = (datetime.now(timezone.utc) + timedelta(seconds=2)).replace(microsecond=0)
    text = _model(input_per_mtok=5, output_per_mtok=5) + (
        f"    prices:\n      - effective_from: '{soon.strftime('%Y-%m-%dT%H:%M:%S')}'\n"
        f"        input_per_mtok: 7\n        output_per_mtok: 7\n")
    _import(services, text)
    with services.sessionmaker() as s:
        count = s.scalar(select(func.count()).select_from(PriceRow).where(PriceRow.slug == SLUG))
    _import(services, text)                                     # the same file again: nothing new
    with services.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(PriceRow).where(PriceRow.slug == SLUG)) == count
    before = log_row(services, _ask(live, api_key).headers["x-request-id"])
    time.sleep(max(0.0, soon.timestamp() - time.time()) + 0.2)
    after = log_row(services, _ask(live, api_key).headers["x-request-id"])
    assert before.cost_usd == Decimal(12 * 5 + 5 * 5) / 10**6 and after.cost_usd == Decimal(12 * 7 + 5 * 7) / 10**6
    assert before.price_id != after.price_id
    changed = text.replace("input_per_mtok: 7", "input_per_mtok: 8")
    with pytest.raises(config_file.ConfigFileError, match="a price is never edited"):
        with services.sessionmaker() as s, s.begin():
            config_file.apply(s, config_file.parse(changed), services.box)


def _stream(live, api_key, model: str) -> str:
    with requests.post(f"{live.url}/v1/chat/completions", stream=True, timeout=20,
                       headers={"Authorization": f"Bearer {api_key}"},
                       json={"model": model, "messages": [{"role": "user", "content": "Hello"}], "stream": True}) as r:
        assert r.status_code == 200
        b"".join(r.iter_content(None))
        return r.headers["x-request-id"]


def test_streamed_usage_is_priced_from_each_providers_own_fields(live, api_key, services, double):
    """Anthropic's 1-hour cache writes and Gemini's audio prompt, streamed, priced by hand."""
    from tests.support.double_anthropic import anthropic_stream, message
    _import(services, "models:\n  - id: anthropic/claude-sonnet-4-5\n    upstream: claude-sonnet-4-5\n"
                      "    input_per_mtok: 3\n    output_per_mtok: 15\n    cached_input_per_mtok: 0.3\n"
                      "    cache_write_per_mtok: 3.75\n    cache_write_1h_per_mtok: 6\n"
                      "  - id: gemini/gemini-2.5-flash\n    upstream: gemini-2.5-flash\n    input_per_mtok: 0.3\n"
                      "    output_per_mtok: 2.5\n    audio_input_per_mtok: 1\n")
    msg = message("claude-sonnet-4-5", [{"type": "text", "text": "Cached hello."}], input_tokens=100,
                  output_tokens=50, cache_read=2000, cache_write=3000)
    msg["usage"]["cache_creation"] = {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000}
    double.enqueue("claude-sonnet-4-5", {"stream": anthropic_stream(msg)})
    row = log_row(services, _stream(live, api_key, "anthropic/claude-sonnet-4-5"), wait_s=5)
    assert row.cost_usd == Decimal("0.0174") and row.cache_write_1h_tokens == 2000     # test_pricing's figures
    chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Heard."}]}, "finishReason": "STOP",
                             "index": 0}],
             "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 100, "thoughtsTokenCount": 50,
                               "totalTokenCount": 1150,
                               "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 700},
                                                       {"modality": "AUDIO", "tokenCount": 300}]},
             "modelVersion": "gemini-2.5-flash"}
    import json
    double.enqueue("gemini-2.5-flash", {"stream": [b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"]})
    row = log_row(services, _stream(live, api_key, "gemini/gemini-2.5-flash"), wait_s=5)
    assert row.cost_usd == Decimal("0.000885") and row.audio_input_tokens == 300
