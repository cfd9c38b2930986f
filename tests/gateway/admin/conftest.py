"""Admin panel fixtures: an admin user made through the CLI, a signed-in test client, clean-up of what tests made."""
import re

import pytest
from sqlalchemy import delete

from models import ModelPrice, Provider, Route

ADMIN_USER = "admin-tests"
ADMIN_PASSWORD = "correct horse battery staple"
PREFIX = "adm-"        # every provider, model and route a test makes is named with it, and removed after the tests

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1)


class AdminClient:
    """Flask's test client, signed in: post() adds the CSRF token of the session unless told not to."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.token = None

    def login(self, username=ADMIN_USER, password=ADMIN_PASSWORD, next_url=None):
        page = self.http.get("/admin/login/")
        url = "/admin/login/" + (f"?next={next_url}" if next_url else "")
        resp = self.http.post(url, data={"username": username, "password": password, "csrf_token": csrf_of(page.text)})
        self.token = csrf_of(self.http.get("/admin/").text) if resp.status_code == 302 else None
        return resp

    def get(self, path, **kw):
        return self.http.get(path, **kw)

    def post(self, path, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self.http.post(path, data=data, **kw)


@pytest.fixture(scope="session")
def admin_user(app):
    """Made with `flask admin create-user`, the password typed at its prompt (twice)."""
    result = app.test_cli_runner().invoke(args=["admin", "create-user", "--username", ADMIN_USER],
                                          input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    return ADMIN_USER, ADMIN_PASSWORD


@pytest.fixture
def admin(app, admin_user) -> AdminClient:
    client = AdminClient(app)
    assert client.login().status_code == 302
    return client


@pytest.fixture(autouse=True)
def _remove_admin_test_rows(app):
    """The database is shared with the API tests: take away what each admin test added to the catalog."""
    yield
    svc = app.extensions["switchyard"]
    with svc.sessionmaker() as s, s.begin():
        for route in s.query(Route).filter(Route.alias.like(f"{PREFIX}%")):
            s.delete(route)
        s.execute(delete(Provider).where(Provider.name.like(f"{PREFIX}%")))
        s.execute(delete(ModelPrice).where(ModelPrice.slug.like(f"{PREFIX}%")))
    svc.catalog.refresh()
