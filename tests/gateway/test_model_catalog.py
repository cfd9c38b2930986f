"""The shipped catalog gateway/data/models.yaml: schema-valid, complete, sane, and importable twice unchanged."""
import os
import re
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from gateway import config_file, db
from gateway.config import EFFORTS
from gateway.secrets import SecretBox
from models import ModelPrice

CATALOG = os.path.join(os.path.dirname(__file__), "..", "..", "gateway", "data", "models.yaml")
PROVIDERS = {"openai", "anthropic", "gemini", "xai", "mistral", "deepseek", "groq"}
CAPABILITY_KEYS = {"tools", "vision", "json_schema", "reasoning", "endpoints", "streaming"}
ENDPOINTS = {"chat", "responses"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# The current flagship and small model of each provider, as of the catalog's prices_as_of date.
FLAGSHIP = {
    "anthropic": "anthropic/claude-opus-5-5",
    "deepseek": "deepseek/deepseek-v4-pro",
    "gemini": "gemini/gemini-4-argon",
    "groq": "groq/openai/gpt-oss-120b",
    "mistral": "mistral/mistral-large-latest",
    "openai": "openai/gpt-6.2-astra",
    "xai": "xai/grok-4.7",
}
SMALL = {
    "anthropic": "anthropic/claude-haiku-5-5",
    "deepseek": "deepseek/deepseek-flash",
    "gemini": "gemini/gemini-3.5-flash-lite",
    "groq": "groq/llama-3.1-8b-instant",
    "mistral": "mistral/mistral-small-latest",
    "openai": "openai/gpt-6-luna",
    "xai": "xai/grok-4.3",
}


@pytest.fixture(scope="module")
def text() -> str:
    with open(CATALOG, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def catalog(text) -> dict:
    return config_file.parse(text)   # raises ConfigFileError (line and field) when the schema rejects it


@pytest.fixture(scope="module")
def entries(catalog) -> list[dict]:
    return catalog["models"]


@pytest.fixture(scope="module")
def by_id(entries) -> dict[str, dict]:
    return {m["id"]: m for m in entries}


def test_the_file_is_models_only_with_a_dated_source_header(text, catalog):
    assert catalog["providers"] == [] and catalog["routes"] == []
    header = text.split("models:", 1)[0]
    assert "Prices taken" in header and re.search(r"\d{4}-\d{2}-\d{2}", header)
    assert len(catalog["models"]) >= 30


def test_ids_are_unique_and_prefixed_by_a_known_provider(entries):
    ids = [m["id"] for m in entries]
    assert len(ids) == len(set(ids))
    for m in entries:
        provider, _, rest = m["id"].partition("/")
        assert provider in PROVIDERS, m["id"]
        assert rest and m["upstream"], m["id"]


def test_entries_are_alphabetised_per_provider(entries):
    seen: dict[str, list[str]] = {}
    for m in entries:
        seen.setdefault(m["id"].split("/", 1)[0], []).append(m["id"])
    for provider, ids in seen.items():
        assert ids == sorted(ids), provider


@pytest.mark.parametrize("field", ["input_per_mtok", "cached_input_per_mtok", "output_per_mtok",
                                   "context_window", "max_output", "prices_as_of", "capabilities"])
def test_every_entry_has_the_required_fields(entries, field):
    missing = [m["id"] for m in entries if m.get(field) is None]
    assert not missing, f"{field} missing on {missing}"


def test_prices_are_sane(entries):
    for m in entries:
        price_in, cached, out = m["input_per_mtok"], m["cached_input_per_mtok"], m["output_per_mtok"]
        assert isinstance(price_in, Decimal) and price_in > 0, m["id"]
        assert 0 <= cached <= price_in, m["id"]
        assert out >= 0, m["id"]
        write = m.get("cache_write_per_mtok")
        if write is not None:
            assert write >= price_in, m["id"]     # writing the cache never costs less than plain input


def test_anthropic_models_carry_the_5_minute_cache_write_and_a_default_max_tokens(entries):
    for m in (m for m in entries if m["id"].startswith("anthropic/")):
        assert m.get("cache_write_per_mtok") == m["input_per_mtok"] * Decimal("1.25"), m["id"]
        default = m["capabilities"].get("default_max_tokens")
        assert isinstance(default, int) and 1024 <= default <= m["max_output"], m["id"]
        assert m["capabilities"].get("thinking") in ("adaptive", "budget"), m["id"]


def test_limits_and_dates(entries):
    for m in entries:
        assert 0 < m["max_output"] <= m["context_window"], m["id"]
        assert DATE.match(m["prices_as_of"]), m["id"]


def test_capabilities_have_the_listed_keys(entries):
    for m in entries:
        caps = m["capabilities"]
        assert CAPABILITY_KEYS <= caps.keys(), (m["id"], CAPABILITY_KEYS - caps.keys())
        for key in ("tools", "vision", "json_schema", "reasoning", "streaming"):
            assert isinstance(caps[key], bool), (m["id"], key)
        assert caps["endpoints"] and set(caps["endpoints"]) <= ENDPOINTS, m["id"]


def test_every_reasoning_model_lists_its_efforts(entries):
    for m in entries:
        caps = m["capabilities"]
        if not caps["reasoning"]:
            assert "efforts" not in caps, m["id"]
            continue
        efforts = caps.get("efforts")
        assert isinstance(efforts, list), m["id"]
        assert set(efforts) <= set(EFFORTS) and len(efforts) == len(set(efforts)), m["id"]
        assert efforts == [e for e in EFFORTS if e in efforts], m["id"]   # listed in EFFORTS order
        if not m["retired"]:
            assert efforts, f"{m['id']} reasons but lists no effort it takes"


def test_retired_models_name_a_live_replacement(by_id):
    for m in by_id.values():
        if m["retired"]:
            replacement = by_id.get(m.get("replacement"))
            assert replacement is not None, m["id"]
            assert not replacement["retired"] and replacement["enabled"], m["id"]
            assert replacement["id"].split("/")[0] == m["id"].split("/")[0], m["id"]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_each_provider_has_a_flagship_and_a_small_model(by_id, provider):
    for slug in (FLAGSHIP[provider], SMALL[provider]):
        m = by_id.get(slug)
        assert m is not None, slug
        assert m["enabled"] and not m["retired"], slug
    assert by_id[SMALL[provider]]["input_per_mtok"] < by_id[FLAGSHIP[provider]]["input_per_mtok"] or \
        provider == "deepseek"   # DeepSeek currently bills v4-pro at the Flash price


def test_responses_only_models_are_marked(by_id):
    for slug in ("openai/o3-pro", "openai/gpt-5-pro", "openai/gpt-5-codex"):
        assert by_id[slug]["capabilities"]["endpoints"] == ["responses"], slug


def _rows(session) -> list[tuple]:
    columns = list(ModelPrice.__table__.columns)   # updated_at included: an UPDATE would move it
    return [tuple(getattr(r, c.key) for c in columns)
            for r in session.scalars(select(ModelPrice).order_by(ModelPrice.slug))]


def test_importing_twice_into_a_fresh_database_changes_nothing(tmp_path, catalog):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessionmaker = db.make_sessionmaker(engine)
    box = SecretBox(Fernet.generate_key())
    try:
        with sessionmaker() as s:
            counts = config_file.apply(s, catalog, box)
            s.commit()
            assert counts == {"providers": 0, "models": len(catalog["models"]), "routes": 0}
            first = _rows(s)
            assert s.scalar(select(func.count()).select_from(ModelPrice)) == len(catalog["models"])
            from datetime import datetime
            from models import PriceRow
            in_force = dict(s.execute(select(PriceRow.slug, func.count()).where(
                PriceRow.effective_from <= datetime.utcnow()).group_by(PriceRow.slug)).all())
            assert all(r.price_version == in_force[r.slug] for r in s.scalars(select(ModelPrice))
                       if r.input_per_mtok is not None)       # 1, or 2 where a dated price took over

        with sessionmaker() as s:
            config_file.apply(s, config_file.parse(open(CATALOG, encoding="utf-8").read()), box)
            s.commit()
            assert s.scalar(select(func.count()).select_from(ModelPrice)) == len(catalog["models"])
            from datetime import datetime
            from models import PriceRow
            in_force = dict(s.execute(select(PriceRow.slug, func.count()).where(
                PriceRow.effective_from <= datetime.utcnow()).group_by(PriceRow.slug)).all())
            assert all(r.price_version == in_force[r.slug] for r in s.scalars(select(ModelPrice))
                       if r.input_per_mtok is not None)       # 1, or 2 where a dated price took over
            assert _rows(s) == first

        with sessionmaker() as s:   # what was stored is what the file says
            row = s.scalar(select(ModelPrice).where(ModelPrice.slug == "anthropic/claude-opus-5-5"))
            assert (row.provider, row.upstream) == ("anthropic", "claude-opus-5-5")
            assert Decimal(str(row.cache_write_per_mtok)) == Decimal("5")
            retired = s.scalar(select(ModelPrice).where(ModelPrice.slug == "openai/o4-mini"))
            assert retired.retired and retired.replacement == "openai/gpt-6.1-terra"
    finally:
        engine.dispose()


def test_the_catalogs_tiers_and_windows_price_as_their_comments_say(tmp_path, catalog):
    """Gemini 2.5 Pro above 200k prompt tokens, DeepSeek's off-peak half price (peak: 01-04 and 06-10 UTC on
    weekdays), xAI's long-context rates: read back from the imported price rows and priced by hand."""
    from datetime import datetime, timezone

    from gateway.prices import history
    from gateway.pricing import cost_of
    from gateway.values import Usage
    url = f"sqlite:///{tmp_path / 'rules.db'}"
    db.upgrade(url)
    sessionmaker = db.make_sessionmaker(db.make_engine(url))
    with sessionmaker() as s:
        config_file.apply(s, catalog, SecretBox(Fernet.generate_key()))
        s.commit()
        prices = {slug: p[-1] for slug, p in history(s, {"gemini/gemini-2.5-pro", "deepseek/deepseek-flash",
                                                         "xai/grok-4.7"}).items()}

    def at(*args):
        return datetime(*args, tzinfo=timezone.utc).timestamp()
    big = Usage(prompt_tokens=250_000, completion_tokens=1000)
    assert cost_of(big, prices["gemini/gemini-2.5-pro"]) == (250_000 * Decimal("2.5") + 1000 * 15) / 10**6
    assert cost_of(big, prices["xai/grok-4.7"]) == (250_000 * 4 + 1000 * 12) / Decimal(10**6)
    u = Usage(prompt_tokens=1000, completion_tokens=1000)
    flash = prices["deepseek/deepseek-flash"]
    peak = (1000 * Decimal("0.3") + 1000 * Decimal("1.2")) / 10**6
    assert cost_of(u, flash, at(2026, 11, 30, 2, 30)) == peak           # Monday 02:30: peak
    assert cost_of(u, flash, at(2026, 11, 30, 8, 0)) == peak            # Monday 08:00: peak
    for off in (at(2026, 11, 30, 4, 30), at(2026, 11, 30, 12, 0), at(2026, 11, 30, 0, 30), at(2026, 12, 5, 2, 30)):
        assert cost_of(u, flash, off) == peak / 2                         # off-peak (the last: a Saturday)


def test_promotional_prices_end_on_their_date_and_a_later_import_does_not_undo_it(tmp_path, catalog):
    from datetime import datetime, timezone

    from gateway.catalog import ModelConf
    from gateway.prices import history
    url = f"sqlite:///{tmp_path / 'promo.db'}"
    db.upgrade(url)
    sessionmaker = db.make_sessionmaker(db.make_engine(url))
    box = SecretBox(Fernet.generate_key())
    for _ in range(2):                                   # the second import changes nothing
        with sessionmaker() as s:
            config_file.apply(s, catalog, box)
            s.commit()
    with sessionmaker() as s:
        rows = history(s, {"gemini/gemini-3.8-flash", "gemini/gemini-4-argon"})
    flash = ModelConf("gemini/gemini-3.8-flash", "gemini", "x", None, prices=rows["gemini/gemini-3.8-flash"])
    argon = ModelConf("gemini/gemini-4-argon", "gemini", "x", None, prices=rows["gemini/gemini-4-argon"])
    dec = datetime(2026, 12, 15, tzinfo=timezone.utc).timestamp()
    jan = datetime(2027, 1, 2, tzinfo=timezone.utc).timestamp()
    nov = datetime(2026, 11, 25, tzinfo=timezone.utc).timestamp()
    assert (flash.price_at(dec).input, flash.price_at(jan).input) == (Decimal("0.75"), Decimal("1.5"))
    assert (argon.price_at(nov).input, argon.price_at(dec).input) == (Decimal("2"), Decimal("4"))
    assert len(rows["gemini/gemini-3.8-flash"]) == 2
