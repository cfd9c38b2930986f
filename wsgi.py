"""The gunicorn target `wsgi:app`; the gevent worker has patched the standard library before importing this."""
from app import create_app

app = create_app()
