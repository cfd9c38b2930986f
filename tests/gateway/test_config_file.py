"""`config import` / `export`: line-and-field errors, all-or-nothing, idempotence, price versions, secrets encrypted."""
import pytest
from sqlalchemy import create_engine, func, select

from app import create_app
from gateway import config_file
from models import ModelPrice, Provider, Route

GOOD = """
providers:
  - name: acme
    type: openai
    base_url: https://llm.acme.test/v1
    api_key: sk-acme-secret-value
  - name: self
    type: openai
    base_url: http://127.0.0.1:11434/v1
    api_key_env: SELF_KEY
models:
  - id: acme/big
    upstream: big-2025
    input_per_mtok: 1.5
    output_per_mtok: 6
    cached_input_per_mtok: 0.5
    context_window: 128000
routes:
  - alias: cheap
    targets: [acme/big, {model: self/llama, weight: 3, overrides: {max_tokens: 100}}]
    retries: 2
    timeout_ms: 10000
"""


@pytest.fixture
def cli_app(tmp_path):
    url = f"sqlite:///{tmp_path / 'cfg.db'}"
    app = create_app({"DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path / "instance"), "CATALOG_REFRESH_S": 0})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    return app, runner, tmp_path


def _counts(app):
    with app.extensions["switchyard"].sessionmaker() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Provider, ModelPrice, Route))


def test_import_is_idempotent_and_export_round_trips(cli_app):
    app, runner, tmp = cli_app
    path = tmp / "good.yaml"
    path.write_text(GOOD)
    first = runner.invoke(args=["config", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "imported 2 providers, 1 models, 1 routes" in first.output
    assert runner.invoke(args=["config", "import", str(path)]).exit_code == 0
    assert _counts(app) == (2, 1, 1)
    with app.extensions["switchyard"].sessionmaker() as s:
        assert s.scalar(select(ModelPrice.price_version)) == 1          # same prices: same version
        stored = s.scalar(select(Provider.api_key_encrypted).where(Provider.name == "acme"))
    assert "sk-acme-secret-value" not in stored                          # encrypted at rest
    assert app.extensions["switchyard"].box.decrypt(stored) == "sk-acme-secret-value"
    exported = runner.invoke(args=["config", "export"]).output
    assert "sk-acme-secret-value" not in exported
    again = config_file.parse(exported)
    assert again["routes"][0]["targets"][1] == {"model": "self/llama", "priority": None, "weight": 3,
                                                "overrides": {"max_tokens": 100}}
    assert str(again["models"][0]["input_per_mtok"]) == "1.5"


def test_price_change_bumps_the_version(cli_app):
    app, runner, tmp = cli_app
    path = tmp / "p.yaml"
    path.write_text(GOOD)
    runner.invoke(args=["config", "import", str(path)])
    path.write_text(GOOD.replace("output_per_mtok: 6", "output_per_mtok: 7"))
    assert runner.invoke(args=["config", "import", str(path)]).exit_code == 0
    with app.extensions["switchyard"].sessionmaker() as s:
        assert s.scalar(select(ModelPrice.price_version)) == 2


@pytest.mark.parametrize("broken, where", [
    (GOOD.replace("type: openai\n    base_url: https", "type: openia\n    base_url: https"),
     "line 4: providers[0].type: Must be one of"),
    (GOOD.replace("retries: 2", "retries: 9"), "line 21: routes[0].retries: Must be greater than or equal to 0"),
    (GOOD.replace("alias: cheap", "alias: Cheap!"), "line 19: routes[0].alias: Must be 1-63 lowercase"),
    (GOOD.replace("input_per_mtok: 1.5", "input_per_mtok: -1"), "line 14: models[0].input_per_mtok"),
    (GOOD.replace("  - id: acme/big", "  - id: acme/big\n    colour: red"), "line 13: models[0].colour: Unknown field"),
    ("providers: [\n  {name: x\n", "line 3: not valid YAML"),
])
def test_malformed_file_names_line_and_field_and_applies_nothing(cli_app, broken, where):
    app, runner, tmp = cli_app
    path = tmp / "bad.yaml"
    path.write_text(broken)
    result = runner.invoke(args=["config", "import", str(path)])
    assert result.exit_code != 0
    assert where in result.output and "nothing was applied" in result.output
    assert _counts(app) == (0, 0, 0)


def test_keys_cli_create_list_revoke(cli_app):
    app, runner, _ = cli_app
    created = runner.invoke(args=["keys", "create", "--name", "ci"])
    assert created.exit_code == 0
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("sk-sy-") and len(secret) > 30
    listed = runner.invoke(args=["keys", "list"]).output
    assert "ci" in listed and secret not in listed and secret[:12] in listed and "active" in listed
    engine = create_engine(app.extensions["switchyard"].settings.DATABASE_URL)
    with engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM api_keys"))
    assert secret not in dump                                             # only the hash is stored
    assert runner.invoke(args=["keys", "revoke", secret[:12]]).exit_code == 0
    assert "revoked" in runner.invoke(args=["keys", "list"]).output
    svc = app.extensions["switchyard"]
    with pytest.raises(Exception) as info:
        svc.keys.lookup(secret)
    assert getattr(info.value, "code", None) == "auth_invalid"


def test_settings_come_from_the_environment_with_types():
    from gateway.config import Settings
    s = Settings.from_env({"DATABASE_URL": "postgresql://x/y", "SWITCHYARD_DEFAULT_TIMEOUT_MS": "1500",
                           "SWITCHYARD_COOLDOWN_S": "2.5", "REDIS_URL": "", "SWITCHYARD_REDIS_PREFIX": "p:"})
    assert (s.DATABASE_URL, s.DEFAULT_TIMEOUT_MS, s.COOLDOWN_S, s.REDIS_URL, s.REDIS_PREFIX) == \
        ("postgresql://x/y", 1500, 2.5, None, "p:")
    assert Settings.from_env({}).DEFAULT_TIMEOUT_MS == 30000


def test_revocation_reaches_other_workers_through_redis(cli_app):
    """Two key caches stand for two workers: a revoke in one is seen by the other within a second."""
    import os
    import time
    import uuid

    from gateway.auth import KeyCache
    from gateway.redis_client import make_redis
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL (CI runs the suite with Redis)")
    app, runner, _ = cli_app
    sm = app.extensions["switchyard"].sessionmaker
    prefix = f"switchyard-test:{uuid.uuid4().hex}:"
    here, there = KeyCache(sm, 300, redis=make_redis(url), prefix=prefix), KeyCache(sm, 300, redis=make_redis(url),
                                                                                   prefix=prefix)
    secret = runner.invoke(args=["keys", "create", "--name", "shared"]).output.strip().splitlines()[-1]
    assert here.lookup(secret).name == there.lookup(secret).name == "shared"
    runner.invoke(args=["keys", "revoke", secret[:12]])
    here.invalidate()                                       # what the CLI's process did after revoking
    time.sleep(KeyCache.VERSION_CHECK_S + 0.1)
    with pytest.raises(Exception) as info:
        there.lookup(secret)                                # cached for 300 s, yet revoked now
    assert getattr(info.value, "code", None) == "auth_invalid"


def test_a_providers_responses_mode_is_checked_where_it_is_written():
    ok = config_file.parse("providers:\n  - name: vllm\n    type: openai\n    responses: native\n")
    assert ok["providers"][0]["responses"] == "native"
    with pytest.raises(config_file.ConfigFileError, match=r"line 4: providers\[0\]\.responses"):
        config_file.parse("providers:\n  - name: claude\n    type: anthropic\n    responses: native\n")
    with pytest.raises(config_file.ConfigFileError, match=r"line 4: providers\[0\]\.responses"):
        config_file.parse("providers:\n  - name: vllm\n    type: openai\n    responses: sometimes\n")
