"""flask commands: db upgrade, keys create/list/revoke, config import/export, admin users, bootstrap for `make run`."""
import os
import sys

import click
import yaml
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, or_, select

from gateway import config_file, db
from gateway.admin.users import AdminUserError, create_admin_user, set_admin_password
from gateway.keys import create_key, revoke
from gateway.config import ROOT
from gateway.services import services
from models import ApiKey, ModelPrice

CATALOG_FILE = os.path.join(ROOT, "gateway", "data", "models.yaml")

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
logs_cli = AppGroup("logs", help="Request logs.")
keys_cli = AppGroup("keys", help="Gateway keys: create, list, revoke.")
config_cli = AppGroup("config", help="Declarative configuration: import and export YAML.")
admin_cli = AppGroup("admin", help="Users of the admin panel at /admin.")


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


@keys_cli.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--rpm", type=int, default=None, help="Requests per minute allowed for this key.")
def keys_create(name: str, rpm: int | None):
    """Create a key; its secret is printed once, as the last line."""
    row, secret = create_key(services().sessionmaker, name, rpm)
    click.echo(f"created key {row.id} ({row.name}), prefix {row.prefix}; the secret is shown only now:")
    click.echo(secret)


@keys_cli.command("list")
def keys_list():
    """List keys (never their secrets)."""
    with services().sessionmaker() as s:
        rows = s.scalars(select(ApiKey).order_by(ApiKey.id)).all()
    click.echo(f"{'id':>4}  {'prefix':<14} {'state':<8} {'created':<20} name")
    for r in rows:
        state = "revoked" if r.revoked_at else ("active" if r.enabled else "disabled")
        click.echo(f"{r.id:>4}  {r.prefix:<14} {state:<8} {r.created_at:%Y-%m-%d %H:%M:%S}  {r.name}")


@keys_cli.command("revoke")
@click.argument("id_or_prefix")
def keys_revoke(id_or_prefix: str):
    """Revoke a key by id or display prefix."""
    svc = services()
    with svc.sessionmaker() as s, s.begin():
        cond = ApiKey.prefix == id_or_prefix
        if id_or_prefix.isdigit():
            cond = or_(cond, ApiKey.id == int(id_or_prefix))
        rows = s.scalars(select(ApiKey).where(cond)).all()
        if len(rows) != 1:
            raise click.ClickException(f"{len(rows)} keys match '{id_or_prefix}'; name exactly one.")
        revoke(s, [rows[0].id])
        click.echo(f"revoked key {rows[0].id} ({rows[0].name}, {rows[0].prefix})")
    svc.keys.invalidate()


@config_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def config_import(path: str):
    """Import a YAML file of providers, models and routes; all of it or nothing."""
    svc = services()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        parsed = config_file.parse(text)
    except config_file.ConfigFileError as e:
        raise click.ClickException(f"{path}: {e}; nothing was applied") from None
    with svc.sessionmaker() as s, s.begin():
        counts = config_file.apply(s, parsed, svc.box)
    click.echo(f"imported {counts['providers']} providers, {counts['models']} models, {counts['routes']} routes")


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


@click.command("bootstrap")
def bootstrap():
    """Migrate the database and create a first key if there is none (printed once). Used by `make run`."""
    svc = services()
    db.upgrade(svc.settings.DATABASE_URL)
    with svc.sessionmaker() as s, s.begin():
        if not s.scalar(select(func.count()).select_from(ModelPrice)):
            with open(CATALOG_FILE, encoding="utf-8") as f:
                counts = config_file.apply(s, config_file.parse(f.read()), svc.box)
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
    for group in (db_cli, keys_cli, config_cli, logs_cli, admin_cli):
        app.cli.add_command(group)
    app.cli.add_command(bootstrap)
