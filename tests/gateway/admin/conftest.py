"""Admin panel fixtures: an admin user made through the CLI, a signed-in test client, clean-up of what tests made,
and cheaper password hashes for the tests (the same scrypt, with a smaller cost)."""
import functools
import re

import pytest
from sqlalchemy import delete
from werkzeug.security import generate_password_hash

from gateway.admin import users
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


# scrypt with N=2**10 instead of werkzeug's 2**15: a hash (made on every user created or changed, checked on every
# sign-in, ~40 in these tests) costs ~2 ms instead of ~75 ms. Hashes say their parameters, so checking one made
# with either cost works the same. test_production_hashes_with_werkzeugs_default_cost proves the module's own.
TEST_HASH_METHOD = "scrypt:1024:8:1"
PRODUCTION_GENERATE_PASSWORD_HASH = users.generate_password_hash


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "generate_password_hash", functools.partial(generate_password_hash, method=TEST_HASH_METHOD))
        users._dummy_hash.cache_clear()          # the unknown-user hash is made like the others
        yield
    users._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def admin_user(app, cheap_password_hashes):
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
