"""The house rules on imports, as one table over every module of gateway/, models/ and schemas/: which layer may
not import which. A rule names a module (or a folder, with everything below it) and the imports it must not make;
an import `a.b.c` breaks a rule on `a` or `a.b` too."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

_WEB = {"flask", "werkzeug", "flask_limiter", "flask_admin", "flask_wtf", "wtforms"}
_DB = {"sqlalchemy", "alembic", "models"}
_NET = {"requests", "urllib3", "redis", "gevent"}
_ORCHESTRATION = {"gateway.pipeline", "gateway.services", "gateway.api", "gateway.admin", "gateway.cli"}
_PROVIDER_PACKAGES = {"gateway.providers.openai", "gateway.providers.anthropic", "gateway.providers.gemini"}

RULES: list[tuple[str, set[str], str]] = [
    ("models", {"gateway"}, "the models are the schema, below the gateway"),
    ("schemas", {"gateway"}, "the request schemas are plain marshmallow, below the gateway"),
    ("gateway/providers", _WEB | _DB | _NET | _ORCHESTRATION | {"gateway.transport", "gateway.streaming",
                                                               "gateway.catalog", "gateway.log_writer",
                                                               "gateway.telemetry", "gateway.db"},
     "an adapter is pure translation: no I/O, no state, no knowledge of who calls it"),
    ("gateway/responses", _WEB | _DB | _NET | _ORCHESTRATION | {"gateway.transport", "gateway.streaming",
                                                               "gateway.catalog", "gateway.log_writer",
                                                               "gateway.telemetry", "gateway.db",
                                                               "gateway.record", "gateway.routing"},
     "the Responses translation is pure: formats in, formats out; the endpoint step does the I/O and storage"),
    ("gateway/values.py", _WEB | _DB | _NET | {"gateway"} - {"gateway.exceptions"}, "plain values import nothing"),
    ("gateway/pricing.py", _WEB | _DB | _NET | {"gateway.providers", "gateway.record"} | _ORCHESTRATION,
     "pricing is pure arithmetic on values"),
    ("gateway/record.py", _WEB | _DB | _NET | {"gateway.providers"} | _ORCHESTRATION,
     "the record holds values; it does not reach the database or the adapters"),
    ("gateway/chunks.py", _WEB | _DB | _NET | {"gateway.providers"} | _ORCHESTRATION, "the envelope is a value"),
    ("gateway/sse.py", _WEB | _DB | _NET | {"gateway"}, "SSE framing is a pure codec"),
    ("gateway/scrub.py", _WEB | _DB | _NET | {"gateway.providers"} | _ORCHESTRATION, "a pure text filter"),
    ("gateway/transport.py", _WEB | _DB | {"gateway.providers", "gateway.record", "gateway.streaming"}
     | _ORCHESTRATION, "the transport sends bytes; it knows no adapter, record or database"),
    ("gateway/streaming.py", _DB | {"requests", "urllib3", "gateway.pipeline", "gateway.services",
                                    "gateway.api"} | _PROVIDER_PACKAGES,
     "the relay is handed a stream state; it knows no pipeline, provider or database"),
    ("gateway/pipeline.py", _WEB | _DB | {"gateway.services", "gateway.api", "gateway.admin"} | _PROVIDER_PACKAGES,
     "the one orchestrator has no provider ifs and no web or database layer"),
    ("gateway/routing.py", _WEB | _DB | _NET | {"gateway.providers"} | _ORCHESTRATION,
     "routing resolves names on the catalog snapshot"),
    ("gateway/drain.py", _WEB | _DB | _NET | {"gateway"}, "process state only"),
    ("gateway/server.py", _WEB | _DB | {"gateway.services", "gateway.api", "gateway.pipeline", "gateway.catalog"},
     "loaded by the gunicorn master, which must stay small"),
    ("gateway/api", {"gateway.providers", "gateway.transport", "gateway.streaming", "requests"},
     "blueprints are thin: parse, call the service, shape the answer"),
]


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}   # `from gateway import streaming`
    return names


def _breaks(name: str, forbidden: set[str]) -> bool:
    parts = name.split(".")
    return any(".".join(parts[:i]) in forbidden for i in range(1, len(parts) + 1))


def _files(target: str) -> list[pathlib.Path]:
    path = ROOT / target
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("target, forbidden, why", RULES, ids=[r[0] for r in RULES])
def test_layer_imports(target, forbidden, why):
    files = _files(target)
    assert files and all(f.exists() for f in files), f"{target} names no module: update the table"
    bad = {}
    for f in files:
        wrong = sorted(n for n in _imports(f) if _breaks(n, forbidden) and not _allowed(n, forbidden))
        if wrong:
            bad[str(f.relative_to(ROOT))] = wrong
    assert bad == {}, why


def _allowed(name: str, forbidden: set[str]) -> bool:
    """`gateway.exceptions` is everyone's error vocabulary, even where `gateway` as a whole is forbidden."""
    return name == "gateway.exceptions" or (name == "gateway" and "gateway" not in forbidden)


def test_the_table_can_catch_a_break(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("from gateway import streaming\nimport sqlalchemy.orm\n")
    found = {n for n in _imports(bad) if _breaks(n, {"gateway.streaming", "sqlalchemy"})}
    assert found == {"gateway.streaming", "sqlalchemy.orm"}


def test_every_module_has_a_docstring():
    missing = []
    for folder in ("gateway", "models", "schemas"):
        for f in (ROOT / folder).rglob("*.py"):
            if f.stat().st_size and ast.get_docstring(ast.parse(f.read_text())) is None:
                missing.append(str(f.relative_to(ROOT)))
    assert missing == []


def test_no_iter_lines_in_gateway():
    offenders = [str(f) for f in (ROOT / "gateway").rglob("*.py") if "iter_lines(" in f.read_text()]
    assert offenders == []
