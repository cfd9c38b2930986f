"""Shared fixtures: the provider double, a migrated database, a live gateway, a key and an OpenAI SDK client.

The suite runs the way a production worker does: gevent patches this process before anything else is imported
(`make test`, i.e. `python -m gevent.monkey --module pytest ...`), and the live gateway is gevent's pywsgi server
with our handler (tests/support/server.py). A run that was not patched so stops at once (`pytest_configure`)."""
import os
import sys
import uuid

import openai
import pytest
from flask.testing import FlaskClient

from app import create_app
from gateway import config_file
from gateway.keys import create_key
from tests.support.double import ProviderDouble
from tests.support.server import LiveServer, reset_database

RUN_THE_SUITE = (
    "the test process must be monkey-patched by gevent before anything else is imported, as a gunicorn gevent "
    "worker is (else the tests would check a threaded server's closing and timeout behaviour, not production's). "
    "Run the suite with `make test` (PYTEST_ARGS=... for pytest's arguments) or "
    "`.venv/bin/python -m gevent.monkey --module pytest [pytest arguments]`, not with plain `pytest` or "
    "`python -m pytest`.")


def gevent_patched() -> bool:
    """True when gevent.monkey patched this process (socket, threading, time...), as `python -m gevent.monkey`
    does before it imports pytest. (It cannot tell how early: a plugin that patched late would pass too.)"""
    if "gevent.monkey" not in sys.modules:
        return False
    from gevent import monkey
    return all(monkey.is_module_patched(m) for m in ("socket", "threading", "time", "select", "ssl", "subprocess"))


def pytest_configure(config):
    if not gevent_patched():
        raise pytest.UsageError(RUN_THE_SUITE)


PROVIDER_ENV = ("OPENAI", "ANTHROPIC", "GEMINI", "XAI", "MISTRAL", "DEEPSEEK", "GROQ", "OPENROUTER")


@pytest.fixture(scope="session", autouse=True)
def _clean_provider_env():
    """Tests never reach a real provider: drop provider keys and base URLs from the environment."""
    saved = {}
    for name in PROVIDER_ENV:
        for var in (f"{name}_API_KEY", f"{name}_BASE_URL"):
            if var in os.environ:
                saved[var] = os.environ.pop(var)
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def double():
    d = ProviderDouble().start()
    yield d
    d.stop()


@pytest.fixture(autouse=True)
def _reset_double(request):
    if "double" in request.fixturenames:
        request.getfixturevalue("double").reset()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'switchyard.db'}"
    reset_database(url)
    return url


def base_config(double_url: str) -> str:
    return """
providers:
  - name: openai
    type: openai
    base_url: {double_url}/openai/v1
    api_key: test-openai-key
  - name: local
    type: openai
    base_url: {double_url}/local/v1
    api_key: test-openai-key
  - name: anthropic
    type: anthropic
    base_url: {double_url}/anthropic/v1
    api_key: test-anthropic-key
  - name: gemini
    type: gemini
    base_url: {double_url}/gemini/v1beta
    api_key: test-gemini-key
  - name: xai
    type: openai
    base_url: {double_url}/xai/v1
    api_key: test-openai-key
  - name: proxy
    type: openai
    base_url: {double_url}/openai/v1
    api_key: test-openai-key
    responses: native
  - name: nowhere           # the provider of the route 'broken': it exists (import takes the route), paused
    type: openai
    base_url: {double_url}/nowhere/v1
    enabled: false
models:
  - id: openai/gpt-4o-mini
    upstream: gpt-4o-mini
    input_per_mtok: 0.15
    output_per_mtok: 0.60
    cached_input_per_mtok: 0.075
    context_window: 128000
  - id: openai/gpt-4o
    upstream: gpt-4o-2024-08-06
    input_per_mtok: 2.50
    output_per_mtok: 10.00
    cached_input_per_mtok: 1.25
  - id: anthropic/claude-sonnet-4-5
    upstream: claude-sonnet-4-5
    input_per_mtok: 3.00
    output_per_mtok: 15.00
    cached_input_per_mtok: 0.30
    cache_write_per_mtok: 3.75
  - id: gemini/gemini-2.5-flash
    upstream: gemini-2.5-flash
    input_per_mtok: 0.30
    output_per_mtok: 2.50
    cached_input_per_mtok: 0.075
  - id: openai/o3-pro
    upstream: o3-pro
    input_per_mtok: 20
    output_per_mtok: 80
    capabilities: {endpoints: [responses], reasoning: true, efforts: [low, medium, high]}
  - id: xai/grok-4.20-multi-agent
    upstream: grok-4.20-multi-agent-0309
    input_per_mtok: 1.25
    output_per_mtok: 2.50
    cached_input_per_mtok: 0.20
    capabilities: {endpoints: [responses], responses: native, reasoning: true, efforts: [low, medium, high, max]}
  - id: openai/gpt-old
    upstream: gpt-old
    retired: true
    replacement: openai/gpt-4o-mini
  - id: local/tuned
    upstream: tuned-7b
    input_per_mtok: 0.1
    output_per_mtok: 0.1
    capabilities: {efforts: [low, high]}
routes:
  - alias: smart
    targets: [openai/gpt-4o, openai/gpt-4o-mini]
    retries: 0
    timeout_ms: 5000
  - alias: sturdy
    description: two retries on the primary before the fallback
    targets: [openai/gpt-4o, {model: local/backup-a, overrides: {max_tokens: 7}}]
    retries: 2
    timeout_ms: 5000
  - alias: quick
    targets: [local/slow-a, local/fast-a]
    retries: 0
    timeout_ms: 1000
  - alias: paused
    targets: [openai/gpt-4o-mini]
    enabled: false
  - alias: split
    targets: [{model: local/heavy, weight: 3, priority: 0}, {model: local/light, weight: 1, priority: 0},
              {model: openai/gpt-4o-mini, priority: 1}]
    retries: 0
  - alias: guarded
    targets: [local/flaky, local/steady]
    retries: 0
  - alias: mixed
    description: native OpenAI Responses first, then Anthropic translated
    targets: [openai/gpt-4o, anthropic/claude-sonnet-4-5]
    retries: 0
  - alias: broken
    targets: [nowhere/model-x]
""".replace("{double_url}", double_url)


@pytest.fixture(scope="session")
def app(database_url, double, tmp_path_factory):
    application = create_app({
        "DATABASE_URL": database_url, "TESTING": True, "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
        "CATALOG_REFRESH_S": 0, "LOG_FLUSH_INTERVAL_S": 0.05, "SECRET_KEY": None,
        # failures scripted by one test must not put a target into cooldown for the next ones
        "COOLDOWN_FAILURES": 10**6, "REDIS_PREFIX": f"switchyard-test:{uuid.uuid4().hex}:",
    })
    application.test_client_class = ClosingTestClient
    svc = application.extensions["switchyard"]
    with svc.sessionmaker() as s, s.begin():
        config_file.apply(s, config_file.parse(base_config(double.url)), svc.box)
    svc.start()
    yield application
    svc.shutdown()


class ClosingTestClient(FlaskClient):
    """Flask's test client, closing every response as a WSGI server does: the app hands a request over (log row,
    in-flight gauges) when its response is closed, and an unbuffered test response is never closed, so each /v1
    call of the admin tests stayed in flight for the rest of the run (and the in-flight gauge tests waited 5 s
    each for the gauges to come back to zero)."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def services(app):
    return app.extensions["switchyard"]


@pytest.fixture(scope="session")
def live(app):
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api_key(services) -> str:
    _, secret = create_key(services.sessionmaker, "tests")
    return secret


@pytest.fixture
def client(live, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=api_key, max_retries=0, timeout=20)


@pytest.fixture
def use_breaker(services, monkeypatch):
    """use_breaker(threshold=..., cooldown_s=...): a fresh breaker of the configured kind (Redis in CI, read
    without its one-second cache) in place of the pipeline's, for this test only."""
    from gateway.cooldown import RedisBreaker, make_breaker

    def swap(threshold: int, cooldown_s: float, window_s: float = 30):
        breaker = make_breaker(services.redis, threshold=threshold, window_s=window_s,
                               cooldown_s=cooldown_s, prefix=f"switchyard-test:{uuid.uuid4().hex}:")
        if isinstance(breaker, RedisBreaker):
            breaker.cache_s = 0
        monkeypatch.setattr(services.pipeline, "breaker", breaker)
        return breaker
    return swap
