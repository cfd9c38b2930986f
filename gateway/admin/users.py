"""Admin users: create them, change their password, check a login (salted werkzeug hashes, never the password)."""
import functools
import hashlib

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from models import AdminUser

MIN_PASSWORD_LEN = 8


class AdminUserError(ValueError):
    """A user that cannot be created or changed; the message says why."""


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LEN:
        raise AdminUserError(f"The password must have at least {MIN_PASSWORD_LEN} characters.")


def create_admin_user(sessionmaker, username: str, password: str) -> AdminUser:
    username = (username or "").strip()
    if not username or len(username) > 120:
        raise AdminUserError("The username must have 1 to 120 characters.")
    _check_password(password)
    with sessionmaker() as s, s.begin():
        if s.scalar(select(AdminUser).where(AdminUser.username == username)) is not None:
            raise AdminUserError(f"An admin user named '{username}' exists already (use set-password).")
        row = AdminUser(username=username, password_hash=generate_password_hash(password), active=True)
        s.add(row)
    return row


def set_admin_password(sessionmaker, username: str, password: str) -> AdminUser:
    _check_password(password)
    with sessionmaker() as s, s.begin():
        row = s.scalar(select(AdminUser).where(AdminUser.username == username))
        if row is None:
            raise AdminUserError(f"There is no admin user named '{username}'.")
        row.password_hash = generate_password_hash(password)
        row.active = True
    return row


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("switchyard: no such user")


def authenticate(sessionmaker, username: str, password: str) -> AdminUser | None:
    """The active user with this name and password, else None (an unknown name costs the same hash check)."""
    with sessionmaker() as s:
        row = s.scalar(select(AdminUser).where(AdminUser.username == (username or "").strip()))
    if row is None or not row.active:
        check_password_hash(_dummy_hash(), password or "")
        return None
    return row if check_password_hash(row.password_hash, password or "") else None


def session_stamp(user: AdminUser) -> str:
    """Changes when the password changes: a new password signs out every session of the old one."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:24]
