"""The admin panel at /admin (Flask-Admin): init_admin(app) builds a new Admin per app, with its login and views."""
import hashlib
import hmac

from flask import Blueprint, Flask

URL = "/admin"


def session_secret(fernet_key: bytes) -> str:
    """The Flask SECRET_KEY, derived from the Fernet key: the same in every worker and host, never the key itself.
    With several keys (a rotation: `new,old`) it is derived from the first alone, so it stays what it was for
    that key whatever older keys are listed behind it."""
    first = fernet_key.split(b",", 1)[0].strip()
    return hmac.new(first, b"switchyard admin session v1", hashlib.sha256).hexdigest()


def init_admin(app: Flask) -> None:
    from flask_admin import Admin
    from flask_admin.theme import Bootstrap4Theme
    from flask_wtf.csrf import CSRFProtect

    from gateway.admin.base import AdminSession
    from gateway.admin.keys import KeyView, TeamView
    from gateway.admin.login import HomeView, current_admin
    from gateway.admin.logs import RequestLogView
    from gateway.admin.prices import ModelPriceView
    from gateway.admin.providers import ProviderView
    from gateway.admin.routes import RouteView
    from models import ApiKey, ModelPrice, Provider, RequestLog, Route, Team

    svc = app.extensions["switchyard"]
    if not app.secret_key:
        app.secret_key = session_secret(svc.box.key)
    # The session cookie is the admin's alone: sent only to /admin, never set by a /v1 answer.
    app.config["SESSION_COOKIE_NAME"] = "switchyard_admin"
    app.config["SESSION_COOKIE_PATH"] = URL
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # CSRF is checked by the admin views' own guard; nothing else (the /v1 API) is touched by it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    CSRFProtect(app)

    templates = Blueprint("switchyard_admin", __name__, template_folder="templates")
    templates.app_context_processor(lambda: {"current_admin": current_admin()})
    app.register_blueprint(templates)

    db = AdminSession(svc.sessionmaker)
    admin = Admin(app, name="Switchyard", url=URL,
                  index_view=HomeView(name="Home", url=URL, endpoint="admin"),
                  theme=Bootstrap4Theme(base_template="switchyard_admin/master.html", fluid=True))
    admin.add_view(KeyView(ApiKey, db, name="Keys", endpoint="admin_keys", url="keys"))
    admin.add_view(TeamView(Team, db, name="Teams", endpoint="admin_teams", url="teams"))
    admin.add_view(ProviderView(Provider, db, name="Providers", endpoint="admin_providers", url="providers"))
    admin.add_view(ModelPriceView(ModelPrice, db, name="Models & prices", endpoint="admin_models", url="models"))
    admin.add_view(RouteView(Route, db, name="Routes", endpoint="admin_routes", url="routes"))
    admin.add_view(RequestLogView(RequestLog, db, name="Request logs", endpoint="admin_logs", url="logs"))
    app.extensions["switchyard_admin"] = admin
    _harden(app, svc.settings.ADMIN_SECURE_COOKIES)


# Admin pages may not be framed, run only our own scripts and styles (Flask-Admin's inline ones included), and leak
# no URL to other sites.
ADMIN_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
                               "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _is_admin(path: str) -> bool:
    return path == URL or path.startswith(URL + "/")


def _harden(app: Flask, secure_cookies: bool) -> None:
    """Security headers on every admin answer; the session cookie `Secure` when asked; an unknown /admin/... URL
    is an admin error page, not the API's JSON."""
    from flask import request

    from gateway.admin.login import _error_page
    from gateway.errors import error_response, to_gateway_error
    app.config["SESSION_COOKIE_SECURE"] = bool(secure_cookies)

    @app.after_request
    def _admin_headers(response):
        if _is_admin(request.path):
            for name, value in ADMIN_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    def _unrouted(e):
        if _is_admin(request.path):
            return _error_page(e)
        return error_response(to_gateway_error(e))
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
