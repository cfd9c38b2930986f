"""flask commands: db upgrade, keys create/update/rotate/show/list/revoke, teams, config import/export, admin users,
secrets reencrypt, bootstrap for `make run`. A database that does not answer is one line naming DATABASE_URL."""
import functools
import sys
import time as _time
from datetime import datetime, time
from decimal import Decimal, InvalidOperation

import click
import yaml
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy import exc as db_exc

from gateway import audit, config_file, db
from gateway.admin.users import AdminUserError, create_admin_user, set_admin_password
from gateway.keys import (UNSET, KeyChangeError, Limits, create_key, find_key, find_team, metadata_of, revoke,
                          rotate, spend)
from gateway.periods import PERIODS
from gateway.config_file import CATALOG_FILE
from gateway.secrets import UndecryptableSecret
from gateway.services import services
from models import ApiKey, ModelPrice, Provider, Team

# The database not answering: down, refusing, locked past its timeout, the pool exhausted.
_DATABASE_DOWN = (db_exc.OperationalError, db_exc.InterfaceError, db_exc.DisconnectionError, db_exc.TimeoutError)


class _DatabaseErrors:
    """A command whose database does not answer ends in one line naming DATABASE_URL (never its password)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _DATABASE_DOWN as e:
            raise click.ClickException(db.unreachable(services().settings.DATABASE_URL, e)) from None


class Group(_DatabaseErrors, AppGroup):
    pass


class Command(_DatabaseErrors, click.Command):
    pass


db_cli = Group("db", help="Database schema (Alembic migrations).")
logs_cli = Group("logs", help="Request logs.")
keys_cli = Group("keys", help="Gateway keys: create, update, rotate, show, list, revoke.")
teams_cli = Group("teams", help="Teams: keys under shared limits and a shared budget.")
usage_cli = Group("usage", help="Usage for reconciliation: export rows, verify their costs.")
config_cli = Group("config", help="Declarative configuration: import and export YAML.")
admin_cli = Group("admin", help="Users of the admin panel at /admin.")
secrets_cli = Group("secrets", help="Provider keys at rest: re-encrypt them after a SWITCHYARD_SECRET_KEY rotation.")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply every migration to DATABASE_URL."""
    db.upgrade(services().settings.DATABASE_URL)
    click.echo("database is at the latest revision")


@db_cli.command("current")
def db_current():
    """Show the migration the database is at."""
    svc = services()
    current = db.current_revisions(svc.engine)
    heads, _ = db.code_revisions(svc.settings.DATABASE_URL)
    state = "up to date" if current == heads else f"the code's head is {', '.join(sorted(heads))}"
    click.echo(f"{', '.join(sorted(current)) or 'no schema (empty database)'} ({state})")


@db_cli.command("history")
def db_history():
    """List the migrations this code carries, newest first."""
    from alembic.script import ScriptDirectory
    script = ScriptDirectory.from_config(db.alembic_config(services().settings.DATABASE_URL))
    for rev in script.walk_revisions():
        click.echo(f"{rev.down_revision or '<base>'} -> {rev.revision}{' (head)' if rev.is_head else ''}: "
                   f"{rev.doc}")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str):
    """Undo migrations down to REVISION (default: one step, -1; `base` undoes all of them)."""
    svc = services()
    db.downgrade(svc.settings.DATABASE_URL, revision)
    click.echo(f"database is at {', '.join(sorted(db.current_revisions(svc.engine))) or 'no migration'}")


def _limit_options(f):
    """The options keys and teams share: rates, tokens, budget and its period, quota."""
    for option in reversed([
        click.option("--rpm", type=int, default=None, help="Requests per minute (0: no limit)."),
        click.option("--tpm", type=int, default=None, help="Tokens per minute, prompt and output (0: no limit)."),
        click.option("--budget-usd", type=str, default=None, help="Budget in USD per period ('none': no budget)."),
        click.option("--budget-period", type=click.Choice(PERIODS), default=None,
                     help="When the budget resets (UTC): day, week (Monday), month (the 1st) or total (never)."),
        click.option("--quota", type=int, default=None, help="Requests per calendar month, UTC (0: no quota)."),
    ]):
        f = option(f)
    return f


def _limits(rpm, tpm, budget_usd, budget_period, quota, extra: dict | None = None) -> Limits:
    def count(v):
        return UNSET if v is None else (None if v == 0 else v)
    budget = UNSET
    if budget_usd is not None:
        if budget_usd.lower() == "none":
            budget = None
        else:
            try:
                budget = Decimal(budget_usd)
            except InvalidOperation:
                raise click.BadParameter(f"not an amount: {budget_usd!r}", param_hint="--budget-usd") from None
    return Limits(count(rpm), count(tpm), budget, UNSET if budget_period is None else budget_period, count(quota),
                  extra or {})


def _key_extra(s, team, models, expires, metadata, admin_scope=None) -> dict:
    extra = {} if admin_scope is None else {"admin_scope": admin_scope}
    if team is not None:
        extra["team_id"] = None if team in ("", "none") else find_team(s, team).id
    if models is not None:
        extra["allowed_models"] = ",".join(m.strip() for m in models.split(",") if m.strip()) or None
    if expires is not None:
        extra["expires_at"] = None if expires in ("", "none") else datetime.combine(expires.date(), time.min)
    if metadata:
        extra["metadata_json"] = metadata_of(metadata)
    return extra


_KEY_OPTIONS = [
    click.option("--team", default=None, help="The team (name or id) whose shared limits also apply ('none')."),
    click.option("--models", default=None, help="Allowed models, comma-separated globs: a,b,provider/*."),
    click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                 help="YYYY-MM-DD: refused from 00:00 UTC that day."),
    click.option("--metadata", multiple=True, help="k=v, repeatable."),
    click.option("--admin-scope/--no-admin-scope", default=None,
                 help="May read every key's and team's usage (GET /v1/usage?key= or team=)."),
]


def _key_options(f):
    for option in reversed(_KEY_OPTIONS):
        f = option(f)
    return _limit_options(f)


def _changed(fn):
    """Run a key or team change; a refusal is the CLI's error (no traceback), and every worker hears of it."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
        except KeyChangeError as e:
            raise click.ClickException(str(e)) from None
        services().keys.invalidate()
        return result
    return wrapper


def _describe(s, row, subject: str, now: float) -> str:
    period = row.budget_period or "total"
    spent, requests = spend(s, subject, period, now)
    when = {"day": "today", "week": "this week", "month": "this month"}.get(period, "so far")
    budget = f"${Decimal(str(row.budget_usd)).normalize():f} per {period}" if row.budget_usd is not None else "-"
    parts = [f"rpm {row.rpm_limit or '-'}", f"tpm {row.tpm_limit or '-'}", f"budget {budget}",
             f"spent ${spent.normalize():f} {when}",
             f"quota {row.request_quota or '-'} per month", f"{requests} requests this month"]
    return ", ".join(parts)


@keys_cli.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@_key_options
@_changed
def keys_create(name, rpm, tpm, budget_usd, budget_period, quota, team, models, expires, metadata, admin_scope):
    """Create a key; its secret is printed once, as the last line."""
    svc = services()
    with svc.sessionmaker() as s:
        extra = _key_extra(s, team, models, expires, metadata, admin_scope)
    row, secret = create_key(svc.sessionmaker, name, limits=_limits(rpm, tpm, budget_usd, budget_period, quota, extra))
    click.echo(f"created key {row.id} ({row.name}), prefix {row.prefix}; the secret is shown only now:")
    click.echo(secret)


@keys_cli.command("update")
@click.argument("id_or_prefix")
@click.option("--name", default=None)
@_key_options
@_changed
def keys_update(id_or_prefix, name, rpm, tpm, budget_usd, budget_period, quota, team, models, expires, metadata,
                admin_scope):
    """Change a key's limits, team, allowed models, expiry, metadata or admin scope (options left out stay)."""
    with services().sessionmaker() as s, s.begin():
        row = find_key(s, id_or_prefix)
        _limits(rpm, tpm, budget_usd, budget_period, quota,
                _key_extra(s, team, models, expires, metadata, admin_scope)).apply(row)
        if name:
            row.name = name
        click.echo(f"updated key {row.id} ({row.name}, {row.prefix})")


@keys_cli.command("rotate")
@click.argument("id_or_prefix")
@click.option("--grace-seconds", type=int, default=0, help="How long the old secret keeps working.")
@_changed
def keys_rotate(id_or_prefix, grace_seconds):
    """Issue a new secret for a key (printed once, as the last line); the old one works for the grace period."""
    with services().sessionmaker() as s, s.begin():
        row = find_key(s, id_or_prefix)
        secret = rotate(s, row, grace_seconds)
        click.echo(f"rotated key {row.id} ({row.name}), new prefix {row.prefix}; the old secret works until "
                   f"{row.previous_valid_until:%Y-%m-%d %H:%M:%S} UTC; the new secret is shown only now:")
    click.echo(secret)


@keys_cli.command("show")
@click.argument("id_or_prefix")
def keys_show(id_or_prefix):
    """A key's limits and its spend this period (never its secret)."""
    with services().sessionmaker() as s:
        try:
            row = find_key(s, id_or_prefix)
        except KeyChangeError as e:
            raise click.ClickException(str(e)) from None
        now = _time.time()
        state = "revoked" if row.revoked_at else ("active" if row.enabled else "disabled")
        click.echo(f"key {row.id} ({row.name}), prefix {row.prefix}, {state}")
        click.echo(f"  team: {row.team.name if row.team else '-'}; models: {row.allowed_models or 'all'}; "
                   f"expires: {f'{row.expires_at:%Y-%m-%d %H:%M} UTC' if row.expires_at else 'never'}; "
                   f"metadata: {row.metadata_json or '{}'}")
        click.echo(f"  {_describe(s, row, f'key:{row.id}', now)}")
        if row.team is not None:
            click.echo(f"  team {row.team.name}: {_describe(s, row.team, f'team:{row.team.id}', now)}")


@keys_cli.command("list")
def keys_list():
    """List keys (never their secrets)."""
    with services().sessionmaker() as s:
        rows = s.scalars(select(ApiKey).order_by(ApiKey.id)).all()
        click.echo(f"{'id':>4}  {'prefix':<14} {'state':<8} {'created':<20} {'team':<16} name")
        for r in rows:
            state = "revoked" if r.revoked_at else ("active" if r.enabled else "disabled")
            click.echo(f"{r.id:>4}  {r.prefix:<14} {state:<8} {r.created_at:%Y-%m-%d %H:%M:%S}  "
                       f"{(r.team.name if r.team else '-'):<16} {r.name}")


@keys_cli.command("revoke")
@click.argument("id_or_prefix")
@_changed
def keys_revoke(id_or_prefix: str):
    """Revoke a key by id or display prefix."""
    with services().sessionmaker() as s, s.begin():
        row = find_key(s, id_or_prefix)
        revoke(s, [row.id])
        click.echo(f"revoked key {row.id} ({row.name}, {row.prefix})")


@teams_cli.command("create")
@click.option("--name", required=True)
@_limit_options
@_changed
def teams_create(name, rpm, tpm, budget_usd, budget_period, quota):
    """Create a team: shared limits and a shared budget for its keys."""
    with services().sessionmaker() as s, s.begin():
        if s.scalar(select(Team).where(Team.name == name)) is not None:
            raise KeyChangeError(f"A team named '{name}' exists; use teams update.")
        row = Team(name=name, budget_period="month")
        _limits(rpm, tpm, budget_usd, budget_period, quota).apply(row)
        s.add(row)
        s.flush()
        click.echo(f"created team {row.id} ({row.name})")


@teams_cli.command("update")
@click.argument("name_or_id")
@_limit_options
@_changed
def teams_update(name_or_id, rpm, tpm, budget_usd, budget_period, quota):
    """Change a team's shared limits (options left out stay as they are)."""
    with services().sessionmaker() as s, s.begin():
        row = find_team(s, name_or_id)
        _limits(rpm, tpm, budget_usd, budget_period, quota).apply(row)
        click.echo(f"updated team {row.id} ({row.name})")


@teams_cli.command("list")
def teams_list():
    """Teams with their limits, spend this period and number of keys."""
    now = _time.time()
    with services().sessionmaker() as s:
        for row in s.scalars(select(Team).order_by(Team.name)):
            keys = s.scalar(select(func.count(ApiKey.id)).where(ApiKey.team_id == row.id))
            click.echo(f"{row.id:>4}  {row.name}: {keys} keys; {_describe(s, row, f'team:{row.id}', now)}")


@config_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and print what would change; change nothing.")
@click.option("--prune", is_flag=True,
              help="Declarative sync: remove the providers, models and routes of each section the file lists "
                   "that it no longer names (never the bundled catalog's models).")
def config_import(path: str, dry_run: bool, prune: bool):
    """Import a YAML file of providers, models and routes; all of it or nothing, every problem reported at once."""
    svc = services()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with svc.sessionmaker() as s:
        known = config_file.known_in(s)
    try:
        parsed = config_file.parse(text, known=known, prune=prune)
        with svc.sessionmaker() as s:           # closing it uncommitted rolls back: an error, or a dry run
            done = config_file.apply(s, parsed, svc.box, prune=prune)
            if not dry_run:
                s.commit()
    except config_file.ConfigFileError as e:
        count = len(e.problems)
        raise click.ClickException(f"{path}: {count} problem{'s' if count > 1 else ''}, nothing was applied:\n  "
                                   + "\n  ".join(e.problems)) from None
    for section, name, what in done.changes:
        if what != "unchanged":
            click.echo(f"{'would be ' if dry_run else ''}{what}: {section[:-1]} {name}")
    click.echo("; ".join(f"{section}: " + ", ".join(f"{n} {what}" for what, n in done.tally(section).items())
                         for section in config_file.SECTIONS))
    if dry_run:
        click.echo("dry run: nothing was changed")
        return
    click.echo(f"imported {done['providers']} providers, {done['models']} models, {done['routes']} routes")


@config_cli.command("export")
def config_export():
    """Write the configuration as YAML to standard output (provider secrets are never written)."""
    with services().sessionmaker() as s:
        data = config_file.export(s)
    yaml.safe_dump(data, sys.stdout, sort_keys=False)


_PASSWORD = dict(prompt=True, hide_input=True, confirmation_prompt=True, envvar="SWITCHYARD_ADMIN_PASSWORD",
                 help="Prompted for when not given (or taken from SWITCHYARD_ADMIN_PASSWORD).")


@admin_cli.command("create-user")
@click.option("--username", required=True, help="The name to sign in with.")
@click.option("--password", **_PASSWORD)
def admin_create_user(username: str, password: str):
    """Create an admin user; only a salted hash of the password is stored."""
    try:
        row = create_admin_user(services().sessionmaker, username, password)
    except AdminUserError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"created admin user {row.username}; sign in at /admin/")


@admin_cli.command("set-password")
@click.option("--username", required=True, help="The admin user whose password changes.")
@click.option("--password", **_PASSWORD)
def admin_set_password(username: str, password: str):
    """Change an admin user's password (and sign out its sessions)."""
    try:
        row = set_admin_password(services().sessionmaker, username, password)
    except AdminUserError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"changed the password of admin user {row.username}")


@logs_cli.command("replay-spill")
def logs_replay_spill():
    """Insert the log rows that were spilled to instance/unwritten-logs.jsonl while the database was down."""
    writer = services().log_writer
    count = writer.replay_spill()
    click.echo(f"replayed {count} spilled log rows" if count else f"nothing to replay ({writer.spill_path})")


def _dates(start, to) -> tuple:
    start, to = start.date(), to.date()
    if start > to:
        raise click.BadParameter(f"--from ({start}) is after --to ({to})", param_hint="--from")
    return start, to


_DATE = click.DateTime(formats=["%Y-%m-%d"])


@usage_cli.command("export")
@click.option("--from", "start", type=_DATE, required=True, help="First UTC day, YYYY-MM-DD.")
@click.option("--to", "to", type=_DATE, required=True, help="Last UTC day, YYYY-MM-DD (included).")
@click.option("--key", "key_id", type=int, default=None, help="Only this key's rows (its id).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
def usage_export(start, to, key_id, fmt):
    """Stream the request rows of a date range (CSV or JSON lines) for reconciliation with an invoice."""
    start, to = _dates(start, to)
    with services().sessionmaker() as s:
        for chunk in audit.export(s, start, to, key_id, fmt):
            sys.stdout.write(chunk)


@usage_cli.command("verify")
@click.option("--from", "start", type=_DATE, required=True)
@click.option("--to", "to", type=_DATE, required=True)
@click.option("--key", "key_id", type=int, default=None, help="Only this key's rows (its id).")
def usage_verify(start, to, key_id):
    """Recompute every row's cost from its tokens and its price row; exits 1 on any mismatch."""
    start, to = _dates(start, to)
    with services().sessionmaker() as s:
        checked, bad = audit.verify(s, start, to, key_id)
    for line in bad:
        click.echo(line, err=True)
    click.echo(f"{checked} priced rows checked from {start} to {to}: {len(bad)} mismatches")
    if bad:
        sys.exit(1)


@logs_cli.command("purge")
@click.option("--older-than", "older_than", required=True, help="An age: 90d, 12h or 30m.")
def logs_purge(older_than):
    """Delete raw request rows older than the age, in batches (safe from cron); the daily rollups stay."""
    import re
    from datetime import timedelta
    m = re.fullmatch(r"(\d+)([dhm])", older_than.strip())
    if not m or int(m.group(1)) < 1:
        raise click.BadParameter(f"an age such as 90d, 12h or 30m; got {older_than!r}", param_hint="--older-than")
    age = timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[m.group(2)]: int(m.group(1))})
    click.echo(f"deleted {audit.purge(services().sessionmaker, age)} request rows older than {older_than}")


@secrets_cli.command("reencrypt")
def secrets_reencrypt():
    """Store every provider key again under the first key of SWITCHYARD_SECRET_KEY (after putting a new key first,
    `new,old`); then the old keys may be removed. Exits 1 naming any provider whose key no configured key opens."""
    svc = services()
    done, unreadable = 0, []
    with svc.sessionmaker() as s, s.begin():
        for row in s.scalars(select(Provider).where(Provider.api_key_encrypted.is_not(None)).order_by(Provider.name)):
            try:
                row.api_key_encrypted = svc.box.rotate(row.api_key_encrypted)
                done += 1
            except UndecryptableSecret:
                unreadable.append(row.name)
    click.echo(f"re-encrypted {done} provider key{'' if done == 1 else 's'} with the first key of "
               f"SWITCHYARD_SECRET_KEY" + ("; the keys after it can be removed now" if svc.box.key_count > 1
                                           and not unreadable else ""))
    if unreadable:
        raise click.ClickException(
            f"the stored API key of {', '.join(repr(n) for n in unreadable)} cannot be decrypted with any key of "
            f"SWITCHYARD_SECRET_KEY (left as it was): add the key it was stored with, or store the provider key "
            f"again (config import or the admin panel)")


@click.command("bootstrap", cls=Command)
def bootstrap():
    """Migrate the database and create a first key if there is none (printed once). Used by `make run`."""
    svc = services()
    db.upgrade(svc.settings.DATABASE_URL)
    with svc.sessionmaker() as s, s.begin():
        if not s.scalar(select(func.count()).select_from(ModelPrice)):
            with open(CATALOG_FILE, encoding="utf-8") as f:
                counts = config_file.apply(s, config_file.parse(f.read(), known=config_file.known_in(s)), svc.box)
            click.echo(f"loaded the model catalog ({counts['models']} models with prices) from {CATALOG_FILE}")
    with svc.sessionmaker() as s:
        count = s.scalar(select(func.count()).select_from(ApiKey))
    if count:
        click.echo(f"database ready; {count} gateway key(s) exist (flask --app app keys list)")
        return
    _, secret = create_key(svc.sessionmaker, "first key")
    click.echo("created the first gateway key; it is shown only now, keep it:")
    click.echo(secret)


def register_cli(app: Flask) -> None:
    for group in (db_cli, keys_cli, teams_cli, usage_cli, config_cli, logs_cli, admin_cli, secrets_cli):
        app.cli.add_command(group)
    app.cli.add_command(bootstrap)
