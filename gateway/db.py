"""The SQLAlchemy engine and session factory, and the Alembic upgrade that builds the schema."""
import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from gateway.config import ROOT


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # WAL lets the log writer and readers work at once
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def safe_url(url: str) -> str:
    """The URL as it may be shown: its password replaced by ***."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: show nothing of it
        return "(not a database URL)"


def unreachable(url: str, error: BaseException) -> str:
    """One line for a database that does not answer: DATABASE_URL without its password, and the driver's first
    line (with the password taken out should a driver ever quote it)."""
    orig = getattr(error, "orig", None) or error
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0].strip()
    try:
        from sqlalchemy.engine import make_url
        password = make_url(url).password
    except Exception:  # noqa: BLE001
        password = None
    if password:
        first = first.replace(str(password), "***")
    return f"the database at DATABASE_URL={safe_url(url)} is not reachable: {first}"


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str):
    from alembic.config import Config
    cfg = Config(os.path.join(ROOT, "migrations", "alembic.ini"))
    cfg.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "-1") -> None:
    from alembic import command
    command.downgrade(alembic_config(url), revision)


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at (empty when it has no schema yet)."""
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def code_revisions(url: str) -> tuple[set[str], set[str]]:
    """(heads, every revision) of the migrations this code carries."""
    from alembic.script import ScriptDirectory
    script = ScriptDirectory.from_config(alembic_config(url))
    return set(script.get_heads()), {r.revision for r in script.walk_revisions()}


class SchemaBehind(Exception):
    """The database's schema is older than this code: the server must not start on it."""


def check_schema(engine: Engine, url: str) -> str | None:
    """Raise SchemaBehind when the database lacks migrations this code carries. Returns a warning (or None) for
    the cases where serving is still right: a schema ahead of the code (a newer release migrated it during a
    rolling upgrade; migrations are additive, so this code still runs on it)."""
    heads, known = code_revisions(url)
    current = current_revisions(engine)
    if current == heads:
        return None
    upgrade_hint = "run `flask --app app db upgrade` (with the same DATABASE_URL), then start the server again"
    if not current:
        raise SchemaBehind(f"The database has no Switchyard schema (it is at no migration; the code needs "
                           f"{', '.join(sorted(heads))}): {upgrade_hint}.")
    unknown = current - known
    if unknown:
        return (f"The database is at migration {', '.join(sorted(unknown))}, newer than this code knows "
                f"({', '.join(sorted(heads))}); serving on it (migrations are additive).")
    raise SchemaBehind(f"The database schema is behind the code: it is at {', '.join(sorted(current))}, the code "
                       f"needs {', '.join(sorted(heads))}: {upgrade_hint}.")
