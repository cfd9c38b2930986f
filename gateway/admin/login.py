"""The admin login: who is signed in, the guard of every admin view (login, CSRF, HTML errors), home/login/logout."""
import hmac
import logging
import time

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_admin import AdminIndexView, expose
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from gateway.admin.users import authenticate, session_stamp
from gateway.limits import SIGN_IN_RATE, sign_in_blocked, sign_in_failed
from gateway.services import services
from models import AdminUser, ApiKey

log = logging.getLogger("switchyard.admin")

SESSION_USER = "admin_user_id"
SESSION_STAMP = "admin_stamp"
SESSION_SINCE = "admin_since"
SESSION_MAX_AGE_S = 12 * 3600            # a sign-in lasts a working day, then the login page again
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=120)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def current_admin() -> AdminUser | None:
    """The signed-in admin of this request (checked against the database once per request), or None."""
    if "switchyard_admin" in g:
        return g.switchyard_admin
    user = None
    uid = session.get(SESSION_USER)
    if uid is not None:
        with services().sessionmaker() as s:
            row = s.get(AdminUser, uid)
        fresh = time.time() - float(session.get(SESSION_SINCE) or 0) < SESSION_MAX_AGE_S
        if row is not None and row.active and fresh and hmac.compare_digest(
                str(session.get(SESSION_STAMP, "")), session_stamp(row)):
            user = row
        else:
            session.clear()
    g.switchyard_admin = user
    return user


def sign_in(user: AdminUser) -> None:
    session.clear()                       # a new session on sign-in: nothing carried over from before it
    session[SESSION_USER] = user.id
    session[SESSION_STAMP] = session_stamp(user)
    session[SESSION_SINCE] = time.time()
    g.switchyard_admin = user


def _safe_next(target: str | None) -> str:
    """Only a path inside the admin panel: never an absolute URL that would make the login an open redirect."""
    index = url_for("admin.index")
    if target and target.startswith(index) and not target.startswith("//") and "\\" not in target:
        return target
    return index


def _check_csrf():
    if request.method in _SAFE_METHODS or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    current_app.extensions["csrf"].protect()   # raises CSRFError (400) on a missing or bad token
    return None


def _error_page(e: Exception):
    """Errors of admin pages are HTML pages for a person, not the API's JSON envelope."""
    if isinstance(e, CSRFError):
        code, title = 400, "The form has expired"
        message = ("It lacks a valid security token (CSRF). Go back, reload the page and submit it again.")
    elif isinstance(e, HTTPException):
        code, title, message = e.code or 500, e.name, e.description
    else:
        log.exception("admin page failed", exc_info=e)
        code, title, message = 500, "Internal error", "The admin panel failed on this request; the log says why."
    return render_template("switchyard_admin/error.html", code=code, title=title, message=message), code


class AdminGuard:
    """Mixed into every admin view: sign-in required, CSRF checked on every unsafe method, HTML error pages."""

    public_views: frozenset[str] = frozenset()

    def is_accessible(self) -> bool:
        return current_admin() is not None

    def _handle_view(self, name, **kwargs):
        if name in self.public_views:
            return None
        return super()._handle_view(name, **kwargs)

    def inaccessible_callback(self, name, **kwargs):
        if request.method not in _SAFE_METHODS:
            return redirect(url_for("admin.login_view"))
        return redirect(url_for("admin.login_view", next=request.full_path.rstrip("?")))

    def create_blueprint(self, admin):
        bp = super().create_blueprint(admin)
        bp.before_request(_check_csrf)
        bp.register_error_handler(Exception, _error_page)
        remove = getattr(getattr(self, "session", None), "remove", None)
        if remove is not None:
            bp.teardown_request(lambda exc: remove())   # the scoped session lives for one request
        return bp


class HomeView(AdminGuard, AdminIndexView):
    """/admin: a summary once signed in; /admin/login/ and /admin/logout/."""

    public_views = frozenset({"login_view", "logout_view"})

    @expose("/")
    def index(self):
        """The dashboard: the daily rollups only (gateway/admin/dashboard.py), never a scan of the request log."""
        from datetime import datetime, timezone

        from gateway.admin import charts
        from gateway.admin.dashboard import CHART_DAYS, SPLITS, dashboard
        svc = services()
        snap = svc.catalog.snapshot
        today = datetime.now(timezone.utc).date()
        with svc.sessionmaker() as s:
            board = dashboard(s, svc.pipeline.breaker, today, request.args.get("days", 30, type=int),
                              request.args.get("split", "model"))
            counts = {
                "api_keys": s.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))),
                # what serves now: configured providers and the built-in ones whose key is in the environment
                "providers": sum(1 for p in snap.providers.values() if p.enabled and p.api_key),
                "models": len(snap.models),
                "routes": len(snap.routes),
            }
        return self.render("switchyard_admin/index.html", counts=counts, board=board, charts=charts,
                           money_text=charts.money_text,
                           chart_days=CHART_DAYS, splits=SPLITS)

    @expose("/login/", methods=("GET", "POST"))
    def login_view(self):
        target = request.args.get("next")
        if current_admin() is not None:
            return redirect(_safe_next(target))
        form = LoginForm()
        status = 200
        svc = services()
        tried = (request.form.get("username") or "") if request.method == "POST" else ""
        if request.method == "POST" and sign_in_blocked(svc.limiter, svc.settings.REDIS_PREFIX, request.remote_addr,
                                                        tried):
            log.warning("admin sign-in attempts for %r or from %s past %s", tried[:120], request.remote_addr,
                        SIGN_IN_RATE)
            flash("Too many failed sign-in attempts for this user or from your address; wait 5 minutes and try "
                  "again.", "error")
            return self.render("switchyard_admin/login.html", form=form, next=target), 429
        if form.validate_on_submit():
            user = authenticate(services().sessionmaker, form.username.data, form.password.data)
            if user is not None:
                sign_in(user)
                log.info("admin %s signed in from %s", user.username, request.remote_addr)
                return redirect(_safe_next(target))
            log.warning("failed admin sign-in for %r from %s", form.username.data, request.remote_addr)
            sign_in_failed(svc.limiter, svc.settings.REDIS_PREFIX, request.remote_addr, form.username.data)
            flash("Unknown username or wrong password.", "error")
            status = 401
        return self.render("switchyard_admin/login.html", form=form, next=target), status

    @expose("/logout/", methods=("GET", "POST"))
    def logout_view(self):
        if request.method == "POST":             # the token was checked by the guard
            session.clear()
            flash("Signed out.", "info")
            return redirect(url_for(".login_view"))
        if current_admin() is None:
            return redirect(url_for(".login_view"))
        return self.render("switchyard_admin/logout.html")
