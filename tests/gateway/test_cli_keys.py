"""`flask keys ...` and `flask teams ...` as an operator types them: every option lands in the row, the secret is
the last line, rotation keeps the old hash for its grace, `show` reports limits and spend, and a mistake is one
line naming it (exit code 1 or 2, no traceback)."""
import json
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from gateway.auth import hash_key
from models import ApiKey, SpendCounter


def _run(app, *args):
    return app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)


def _row(services, key_id: int) -> ApiKey:
    with services.sessionmaker() as s:
        return s.get(ApiKey, key_id)


def test_create_with_every_option_then_update_and_show(app, services):
    team = f"cli-{uuid.uuid4().hex[:8]}"
    assert _run(app, "teams", "create", "--name", team, "--rpm", "100", "--budget-usd", "5").exit_code == 0
    out = _run(app, "keys", "create", "--name", "bot", "--team", team, "--rpm", "5", "--tpm", "1000",
               "--budget-usd", "1.5", "--budget-period", "day", "--quota", "100", "--models", "openai/*, smart",
               "--expires", "2027-01-01", "--metadata", "owner=ops", "--metadata", "env=ci", "--admin-scope")
    assert out.exit_code == 0
    secret = out.output.strip().splitlines()[-1]
    assert secret.startswith("sk-sy-")
    with services.sessionmaker() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
        assert (row.rpm_limit, row.tpm_limit, row.budget_usd, row.budget_period, row.request_quota) == \
            (5, 1000, Decimal("1.5"), "day", 100)
        assert row.team.name == team and row.allowed_models == "openai/*,smart" and row.admin_scope is True
        assert row.expires_at == datetime(2027, 1, 1) and json.loads(row.metadata_json) == {"env": "ci", "owner": "ops"}
        key_id = row.id
        s.add(SpendCounter(subject=f"key:{key_id}", day=datetime.utcnow().date(), spent_usd=Decimal("0.25"),
                           requests=4))
        s.commit()
    assert _run(app, "keys", "update", str(key_id), "--rpm", "0", "--team", "none").exit_code == 0
    updated = _row(services, key_id)
    assert updated.rpm_limit is None and updated.team_id is None and updated.tpm_limit == 1000
    shown = _run(app, "keys", "show", str(key_id)).output
    assert "tpm 1000" in shown and "budget $1.5 per day" in shown and "spent $0.25 today" in shown
    assert "4 requests this month" in shown and secret not in shown
    assert team in _run(app, "teams", "list").output


def test_rotate_keeps_the_old_secret_for_its_grace(app, services):
    out = _run(app, "keys", "create", "--name", "rot")
    old = out.output.strip().splitlines()[-1]
    with services.sessionmaker() as s:
        key_id = s.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(old)))
    rotated = _run(app, "keys", "rotate", str(key_id), "--grace-seconds", "120")
    new = rotated.output.strip().splitlines()[-1]
    assert rotated.exit_code == 0 and new.startswith("sk-sy-") and new != old
    row = _row(services, key_id)
    assert row.key_hash == hash_key(new) and row.previous_key_hash == hash_key(old)
    assert (row.previous_valid_until - datetime.utcnow()).total_seconds() > 100
    assert services.keys.lookup(old).id == key_id and services.keys.lookup(new).id == key_id


def test_mistakes_are_one_line_naming_them(app):
    for args, text in ((("keys", "update", "999999", "--rpm", "3"), "0 keys match '999999'"),
                       (("keys", "create", "--name", "x", "--tpm", "-1"), "tpm limit must be 1 or more"),
                       (("keys", "create", "--name", "x", "--team", "no-such-team"), "No team 'no-such-team'"),
                       (("keys", "create", "--name", "x", "--budget-usd", "lots"), "not an amount"),
                       (("keys", "create", "--name", "x", "--budget-period", "year"), "'year' is not one of"),
                       (("keys", "create", "--name", "x", "--metadata", "novalue"), "Metadata is key=value")):
        out = app.test_cli_runner().invoke(args=list(args))
        assert out.exit_code in (1, 2) and text in out.output, (args, out.output)
        assert "Traceback" not in out.output
    name = f"dup-{uuid.uuid4().hex[:6]}"
    _run(app, "teams", "create", "--name", name)
    dup = app.test_cli_runner().invoke(args=["teams", "create", "--name", name])
    assert dup.exit_code == 1 and "exists" in dup.output


def test_a_known_key_is_served_while_the_database_is_down_and_an_unknown_one_is_a_503(services):
    import pytest

    from gateway import exceptions as exc
    from gateway.auth import KeyCache
    from gateway.keys import create_key
    _, secret = create_key(services.sessionmaker, "through-an-outage")
    up = {"yes": True}

    def sessions():
        if not up["yes"]:
            raise ConnectionError("database down")
        return services.sessionmaker()
    cache = KeyCache(sessions, ttl_s=30)
    known = cache.lookup(secret)
    cache.invalidate()                                   # a change elsewhere: looked up again on next use
    up["yes"] = False
    assert cache.lookup(secret) == known                 # the last known record, not a 500
    with pytest.raises(exc.Unavailable):
        cache.lookup("sk-sy-never-seen")
