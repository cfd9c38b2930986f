"""What a server process checks before it serves: the database schema matches the code."""
import logging

from flask import Flask
from sqlalchemy.exc import OperationalError

from gateway import db

log = logging.getLogger("switchyard.startup")
APP_LOAD_ERROR = 4     # gunicorn's exit status for "App failed to load": the master halts instead of respawning


def check_database(app: Flask) -> None:
    svc = app.extensions["switchyard"]
    try:
        warning = db.check_schema(svc.engine, svc.settings.DATABASE_URL)
    except db.SchemaBehind as e:
        log.error("%s", e)
        raise SystemExit(APP_LOAD_ERROR) from None
    except OperationalError as e:
        log.warning("the database is not reachable at startup (%s); serving, /readyz answers 503 until it is",
                    str(e.orig).strip().splitlines()[0] if e.orig else e)
        return
    if warning:
        log.warning("%s", warning)
