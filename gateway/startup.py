"""What a server process checks before it serves: every setting parses (the secret key included), and the database
schema matches the code.

`check_database(app)` runs in wsgi.py, for any WSGI server. Under gunicorn the master also runs it once, before
any worker starts, as `python -m gateway.startup` in a process of its own (deploy/gunicorn.conf.py's
on_starting): two workers refusing at once made gunicorn 27 halt twice and exit 1 with a traceback, and the
master stays free of the app's imports."""
import logging
import sys

from sqlalchemy.exc import OperationalError

from gateway import db

log = logging.getLogger("switchyard.startup")
APP_LOAD_ERROR = 4     # gunicorn's exit status for "App failed to load": the master halts instead of respawning


def check_schema_at(engine, url: str) -> None:
    """Raise SystemExit(APP_LOAD_ERROR) on a schema behind the code (logged, naming the command that fixes it);
    log and return on an unreachable database (the server starts; /readyz answers 503 until it is back)."""
    try:
        warning = db.check_schema(engine, url)
    except db.SchemaBehind as e:
        log.error("%s", e)
        raise SystemExit(APP_LOAD_ERROR) from None
    except OperationalError as e:
        log.warning("%s; serving, /readyz answers 503 until it is", db.unreachable(url, e))
        return
    if warning:
        log.warning("%s", warning)


def check_database(app) -> None:
    svc = app.extensions["switchyard"]
    check_schema_at(svc.engine, svc.settings.DATABASE_URL)


def main() -> int:
    """The check on its own: the database of the environment's settings (no app, no Flask)."""
    from gateway.config import Settings, validate_observability
    from gateway.secrets import box_from
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        settings = Settings.from_env()
        validate_observability(settings)
        box_from(settings.SECRET_KEY, settings.INSTANCE_DIR)   # made here once when missing, before any worker
    except ValueError as e:                    # a bad setting: its message names the variable; no traceback
        log.error("%s", e)
        return APP_LOAD_ERROR
    url = settings.DATABASE_URL
    engine = db.make_engine(url)
    try:
        check_schema_at(engine, url)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
