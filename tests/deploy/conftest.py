"""Fixtures of the deploy tests: a real gunicorn (deploy/gunicorn.conf.py, gevent workers) on a prepared database."""
import pytest

from tests.deploy.gateway_proc import start_gunicorn


@pytest.fixture
def gunicorn(tmp_path, double):
    """(url, key, env, proc): gunicorn with 2 workers on a free loopback port, serving the double's providers."""
    server, key = start_gunicorn(tmp_path, double.url)
    yield server.url, key, server.env, server.proc
    server.kill()
