"""The migrations build the models' schema from empty, step down and up again, on SQLite and (TEST_DATABASE_URL)
PostgreSQL; a server refuses a schema older than its code and names the command that fixes it."""
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from gateway import db
from models import Base
from tests.support.procs import Gateway, fresh_database_url, gateway_env


@pytest.fixture
def url(tmp_path):
    return fresh_database_url(tmp_path, "migrations")


def _diff(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def _revisions(url) -> list[str]:
    from alembic.script import ScriptDirectory
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(db.alembic_config(url)).walk_revisions()))]


def test_from_empty_the_migrations_build_exactly_the_models_schema(url):
    db.upgrade(url)
    engine = create_engine(url)
    try:
        heads, _ = db.code_revisions(url)
        assert db.current_revisions(engine) == heads
        assert _diff(engine) == [], "the models and the migrated schema differ: a migration is missing"
        assert {"api_keys", "request_logs", "request_attempts"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_every_step_goes_down_and_up_again(url):
    revisions = _revisions(url)
    engine = create_engine(url)
    try:
        db.upgrade(url)
        for expected in reversed([None] + revisions[:-1]):       # one step down at a time, to the base
            db.downgrade(url, "-1")
            assert db.current_revisions(engine) == ({expected} if expected else set())
        assert [t for t in inspect(engine).get_table_names() if t != "alembic_version"] == []
        for rev in revisions:                                     # and one step up at a time
            db.upgrade(url, rev)
            assert db.current_revisions(engine) == {rev}
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_check_schema_refuses_empty_and_older_schemas_and_accepts_newer_ones(url):
    engine = create_engine(url)
    try:
        with pytest.raises(db.SchemaBehind, match="flask --app app db upgrade"):
            db.check_schema(engine, url)
        db.upgrade(url)
        assert db.check_schema(engine, url) is None
        revisions = _revisions(url)
        if len(revisions) > 1:
            db.downgrade(url, "-1")
            with pytest.raises(db.SchemaBehind, match=f"it is at {revisions[-2]}.*flask --app app db upgrade"):
                db.check_schema(engine, url)
            db.upgrade(url)
        with engine.begin() as conn:                               # a newer release migrated it (rolling upgrade)
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        assert "newer than this code" in db.check_schema(engine, url)
    finally:
        engine.dispose()


def test_the_server_refuses_to_start_on_a_schema_behind_the_code(tmp_path, url):
    env = gateway_env(tmp_path, url)
    gw = Gateway(env, tmp_path / "gunicorn.log")
    with pytest.raises(AssertionError, match="exited with 4"):
        gw.start(timeout_s=30)
    assert "flask --app app db upgrade" in gw.output()
    assert "Traceback" not in gw.output()


def _flask_cli(env: dict, *args: str) -> str:
    """`flask --app app ARGS` as the command runs it (flask's own entry point, the app made by create_app from the
    environment), with `env`'s variables, in this process: ~0.7 s less per command than a new interpreter. The
    command line in a process of its own is the deploy tests' (flask bootstrap, config import, gunicorn)."""
    from click.testing import CliRunner
    from flask.cli import cli
    changed = {k: v for k, v in env.items() if os.environ.get(k) != v}
    result = CliRunner().invoke(cli, ["--app", "app", *args], env=changed, catch_exceptions=False)
    assert result.exit_code == 0, f"flask {' '.join(args)} failed:\n{result.output}"
    return result.stdout


def test_db_cli_current_history_downgrade(tmp_path, url):
    env = gateway_env(tmp_path, url)
    assert "no schema" in _flask_cli(env, "db", "current")
    _flask_cli(env, "db", "upgrade")
    revisions = _revisions(url)
    assert _flask_cli(env, "db", "current").startswith(f"{revisions[-1]} (up to date)")
    history = _flask_cli(env, "db", "history")
    assert all(r in history for r in revisions) and "(head)" in history
    out = _flask_cli(env, "db", "downgrade", "base")
    assert "no migration" in out
    assert "no schema" in _flask_cli(env, "db", "current")
