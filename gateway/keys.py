"""Gateway keys as the CLI, the admin panel and the tests change them: create (the secret is returned once, only
its hash is stored) and revoke; every change is told to the key cache of every worker."""
from datetime import datetime, timezone

from sqlalchemy import select

from gateway.auth import generate_key
from models import ApiKey


def new_key_fields() -> tuple[str, dict]:
    """(the secret, the columns that store it): its SHA-256 hash and display prefix, enabled."""
    secret, digest, prefix = generate_key()
    return secret, {"key_hash": digest, "prefix": prefix, "enabled": True}


def create_key(sessionmaker, name: str, rpm_limit: int | None = None) -> tuple[ApiKey, str]:
    secret, fields = new_key_fields()
    with sessionmaker() as s, s.begin():
        row = ApiKey(name=name, rpm_limit=rpm_limit, **fields)
        s.add(row)
    return row, secret


def revoke(session, ids: list[int]) -> list[ApiKey]:
    """Revoke these keys (those not revoked already) in `session`; the caller commits, then tells the cache."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = session.scalars(select(ApiKey).where(ApiKey.id.in_(ids))).all()
    revoked = [r for r in rows if r.revoked_at is None]
    for r in revoked:
        r.revoked_at, r.enabled = now, False
    return revoked
