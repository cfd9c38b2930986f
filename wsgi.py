"""The WSGI target `wsgi:app` (gunicorn, waitress, mod_wsgi...): the app, once its database schema is checked.

A server must not start on a schema older than its code (it would fail on its first query); the check stops the
process with a message that names `flask --app app db upgrade`. An unreachable database does not stop it: the
server starts, /readyz answers 503 until the database answers, and the catalog loads on the next try.
"""
from app import create_app
from gateway.startup import check_database

app = create_app()
check_database(app)
