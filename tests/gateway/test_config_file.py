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


# --- the rules on what a file names: providers that exist, real efforts, plain base URLs (gateway/config_rules.py) ---

def _import(runner, tmp, text, *options):
    path = tmp / "cfg.yaml"
    path.write_text(text)
    return runner.invoke(args=["config", "import", str(path), *options])


def _refused(result) -> list[str]:
    """The problems a refused import listed, one a line (after its count), and that it applied nothing."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "nothing was applied" in result.output
    return [line.strip() for line in result.output.splitlines()[1:] if line.strip()]


def test_a_route_target_on_a_provider_that_does_not_exist_is_refused_naming_route_target_and_line(cli_app):
    app, runner, tmp = cli_app
    problems = _refused(_import(runner, tmp, GOOD.replace("targets: [acme/big,", "targets: [nosuchprovider/foo,")))
    assert len(problems) == 1
    assert problems[0].startswith("line 20: routes[0].targets[0]: route 'cheap': target 'nosuchprovider/foo' names "
                                  "the provider 'nosuchprovider', which does not exist")
    assert _counts(app) == (0, 0, 0)


def test_a_provider_exists_when_the_file_the_database_or_the_built_ins_have_it(cli_app):
    app, runner, tmp = cli_app
    assert _import(runner, tmp, GOOD).exit_code == 0                      # acme and self: in the file
    later = "routes:\n  - alias: later\n    targets: [acme/big, self/llama, openai/gpt-4o, anthropic/claude-x]\n"
    result = _import(runner, tmp, later)                                  # acme, self: in the database now
    assert result.exit_code == 0, result.output
    assert "created: route later" in result.output
    # with --prune the file's providers are all there will be: one it drops does not count any more
    dropped = GOOD.replace("  - name: self\n    type: openai\n    base_url: http://127.0.0.1:11434/v1\n"
                           "    api_key_env: SELF_KEY\n", "")
    problems = _refused(_import(runner, tmp, dropped + "  - alias: later\n    targets: [self/llama]\n", "--prune"))
    assert [p for p in problems if "'self'" in p] and all("does not exist" in p for p in problems)


@pytest.mark.parametrize("target, problem", [
    ("openai/gpt-4o:ultra", "':ultra' is not a reasoning effort (it takes low, medium, high or max); as written it "
                            "would be sent upstream as the model 'gpt-4o:ultra'"),
    ("acme/big:ultra", "':ultra' is not a reasoning effort"),                 # acme/big: a model of the file
    ("anthropic/claude-new:extreme", "':extreme' is not a reasoning effort"),  # Anthropic ids hold no ':'
    ("openai/gpt-4o:HIGH", "the effort ':HIGH' is written in lowercase (:high)"),
    ("acme/big:medium", "the model 'acme/big' does not take the effort ':medium' (it takes: low, high)"),
    ("gpt-4o:ultra", "':ultra' is not a reasoning effort"),                   # a bare id, mapped to openai
    ("acme/big:", "ends with ':'"),
])
def test_a_bad_effort_is_refused_at_import(cli_app, target, problem):
    app, runner, tmp = cli_app
    text = GOOD.replace("    context_window: 128000\n", "    context_window: 128000\n    capabilities: "
                                                           "{reasoning: true, efforts: [low, high]}\n")
    problems = _refused(_import(runner, tmp, text.replace("targets: [acme/big,", f"targets: ['{target}',")))
    assert len(problems) == 1 and f"route 'cheap': target '{target}'" in problems[0] and problem in problems[0]
    assert problems[0].startswith("line 21: routes[0].targets[0]:")


@pytest.mark.parametrize("target", ["acme/big:high", "openai/gpt-4o:max", "self/llama3:8b", "self/llama3:latest",
                                    "openai/ft:gpt-4o-mini:acme::abc123", "claude-sonnet-4-5:low", "gpt-4o"])
def test_real_efforts_and_model_ids_with_a_colon_are_accepted(cli_app, target):
    """An OpenAI-compatible server's model id may hold a ':' (Ollama's tags, fine-tunes): taken as it is."""
    app, runner, tmp = cli_app
    result = _import(runner, tmp, GOOD.replace("targets: [acme/big,", f"targets: ['{target}',"))
    assert result.exit_code == 0, result.output


def test_every_problem_of_a_file_is_reported_at_once(cli_app):
    app, runner, tmp = cli_app
    broken = (GOOD.replace("type: openai\n    base_url: https", "type: openia\n    base_url: https")
              .replace("retries: 2", "retries: 9")
              .replace("targets: [acme/big,", "targets: [nosuchprovider/foo, 'acme/big:ultra',")
              .replace("http://127.0.0.1:11434/v1", "ftp://127.0.0.1:11434/v1")
              + "  - alias: cheap\n    targets: [acme/big]\n")
    result = _import(runner, tmp, broken)
    problems = _refused(result)
    assert "6 problems, nothing was applied" in result.output
    assert [p.split(":", 1)[0] for p in problems] == ["line 4", "line 9", "line 20", "line 20", "line 21",
                                                       "line 23"]                 # in the order of the file
    joined = "\n".join(problems)
    for expected in ("line 4: providers[0].type: Must be one of", "line 9: providers[1].base_url: "
                     "'ftp://127.0.0.1:11434/v1' must start with http:// or https://",
                     "routes[0].targets[0]: route 'cheap': target 'nosuchprovider/foo'",
                     "routes[0].targets[1]: route 'cheap': target 'acme/big:ultra'",
                     "routes[0].retries: Must be greater than or equal to 0",
                     "routes[1].alias: 'cheap' is listed twice (first at line 19)"):
        assert expected in joined, joined
    assert len(problems) == 6, joined
    assert _counts(app) == (0, 0, 0)


@pytest.mark.parametrize("url, problem", [
    ("https://user:s3cret-pw@llm.acme.test/v1", "must not hold credentials"),
    ("https://llm.acme.test/v1?api_key=sk-in-the-query", "must not have a query"),
    ("https://llm.acme.test/v1#part", "must not have a fragment"),
    ("ftp://llm.acme.test/v1", "must start with http:// or https://"),
    ("https:///v1", "names no host"),
    ("llm.acme.test/v1", "must start with http:// or https://"),
    ("http://llm.acme.test:99999/v1", "port that is not a number from 1 to 65535"),
])
def test_a_base_url_is_checked_at_import_and_never_quoted_with_its_secrets(cli_app, url, problem):
    app, runner, tmp = cli_app
    problems = _refused(_import(runner, tmp, GOOD.replace("https://llm.acme.test/v1", url)))
    assert any(p.startswith("line 5: providers[0].base_url:") and problem in p for p in problems), problems
    joined = "\n".join(problems)
    assert "s3cret-pw" not in joined and "sk-in-the-query" not in joined


def test_dry_run_prints_what_would_change_and_changes_nothing(cli_app):
    app, runner, tmp = cli_app
    first = _import(runner, tmp, GOOD, "--dry-run")
    assert first.exit_code == 0, first.output
    assert "would be created: provider acme" in first.output and "would be created: route cheap" in first.output
    assert "providers: 2 created, 0 updated, 0 unchanged, 0 removed" in first.output
    assert "dry run: nothing was changed" in first.output and "imported" not in first.output
    assert _counts(app) == (0, 0, 0)
    assert _import(runner, tmp, GOOD).exit_code == 0
    changed = GOOD.replace("output_per_mtok: 6", "output_per_mtok: 7").replace("retries: 2", "retries: 3")
    dry = _import(runner, tmp, changed, "--dry-run", "--prune")
    assert dry.exit_code == 0, dry.output
    assert "would be updated: model acme/big" in dry.output and "would be updated: route cheap" in dry.output
    assert "providers: 0 created, 0 updated, 2 unchanged, 0 removed" in dry.output
    with app.extensions["switchyard"].sessionmaker() as s:
        assert s.scalar(select(ModelPrice.price_version)) == 1 and s.scalar(select(Route.retries)) == 2
    unchanged = _import(runner, tmp, GOOD, "--dry-run")
    assert "would be" not in unchanged.output and "routes: 0 created, 0 updated, 1 unchanged" in unchanged.output


def test_prune_removes_what_the_file_no_longer_lists_in_the_sections_it_lists(cli_app):
    app, runner, tmp = cli_app
    svc = app.extensions["switchyard"]
    catalog = config_file.catalog_models()
    with svc.sessionmaker() as s, s.begin():                       # the bundled catalog, as `make run` loads it
        config_file.apply(s, config_file.parse(open(config_file.CATALOG_FILE, encoding="utf-8").read()), svc.box)
    extra = GOOD + "  - alias: old\n    targets: [acme/big]\n"
    extra = extra.replace("models:\n", "models:\n  - id: self/gone\n    input_per_mtok: 1\n    output_per_mtok: 1\n")
    assert _import(runner, tmp, extra).exit_code == 0
    assert _counts(app) == (2, len(catalog) + 2, 2)
    without_self = GOOD.replace("  - name: self\n    type: openai\n    base_url: http://127.0.0.1:11434/v1\n"
                                "    api_key_env: SELF_KEY\n", "").replace(", {model: self/llama, weight: 3, "
                                                                            "overrides: {max_tokens: 100}}", "")
    plain = _import(runner, tmp, without_self)                     # without --prune nothing goes
    assert plain.exit_code == 0 and "removed:" not in plain.output and _counts(app) == (2, len(catalog) + 2, 2)
    pruned = _import(runner, tmp, without_self, "--prune")
    assert pruned.exit_code == 0, pruned.output
    for line in ("removed: provider self", "removed: model self/gone", "removed: route old"):
        assert line in pruned.output
    assert _counts(app) == (1, len(catalog) + 1, 1)                # the catalog's models stay
    from models import PriceRow
    with svc.sessionmaker() as s:                                 # a removed model's price history stays
        assert s.scalar(select(func.count()).select_from(PriceRow).where(PriceRow.slug == "self/gone")) == 1
    only_routes = _import(runner, tmp, "routes:\n  - alias: cheap\n    targets: [acme/big]\n", "--prune")
    assert only_routes.exit_code == 0 and "removed:" not in only_routes.output       # other sections untouched
    assert _counts(app) == (1, len(catalog) + 1, 1)
    empty = _import(runner, tmp, "routes: []\n", "--prune")                           # a listed empty section
    assert "removed: route cheap" in empty.output and _counts(app) == (1, len(catalog) + 1, 0)


def test_a_name_listed_twice_is_refused():
    with pytest.raises(config_file.ConfigFileError, match=r"line 3: models\[1\]\.id: 'a/b' is listed twice "
                                                          r"\(first at line 2\)"):
        config_file.parse("models:\n  - {id: a/b}\n  - {id: a/b}\n")


def test_a_model_on_a_provider_that_does_not_exist_is_refused(cli_app):
    app, runner, tmp = cli_app
    problems = _refused(_import(runner, tmp, GOOD.replace("  - id: acme/big", "  - id: acmee/big")))
    assert any(p.startswith("line 12: models[0].id: 'acmee/big' names the provider 'acmee', which does not exist")
               for p in problems), problems
