"""The WSGI target `wsgi:app` (gunicorn, waitress, mod_wsgi...): the app, once its settings and database schema are
checked.

A setting that cannot be used (SWITCHYARD_KEY_CACHE_TTL_S=30s, a malformed SWITCHYARD_SECRET_KEY...) stops the
process with one line naming the variable, under any server (gunicorn's master checks the same before it forks).
A server must not start on a schema older than its code (it would fail on its first query); the check stops the
process with a message that names `flask --app app db upgrade`. An unreachable database does not stop it: the
server starts, /readyz answers 503 until the database answers, and the catalog loads on the next try.
"""
import sys

from app import create_app
from gateway.config import SettingError
from gateway.startup import check_database

try:
    app = create_app()
except SettingError as e:
    print(f"switchyard: {e}", file=sys.stderr)
    raise SystemExit(4) from None
check_database(app)
