"""keys and teams with exact limits: teams, key limits/expiry/rotation/metadata, per-day spend counters

api_keys gains team_id, tpm_limit, budget_period (existing budgets keep their meaning: "total"), request_quota,
expires_at, metadata_json, previous_key_hash / previous_valid_until (a rotated secret's grace) and updated_at (the
key cache watches it). request_logs gains team_id. spend_counters holds spend and requests per subject per UTC day,
seeded from the request logs that exist.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'teams',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('rpm_limit', sa.Integer(), nullable=True),
        sa.Column('tpm_limit', sa.Integer(), nullable=True),
        sa.Column('budget_usd', sa.Numeric(precision=14, scale=6), nullable=True),
        sa.Column('budget_period', sa.String(length=8), nullable=False, server_default='month'),
        sa.Column('request_quota', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_index(op.f('ix_teams_updated_at'), 'teams', ['updated_at'], unique=False)
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tpm_limit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('budget_period', sa.String(length=8), nullable=False, server_default='total'))
        batch_op.add_column(sa.Column('request_quota', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('metadata_json', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('previous_key_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_valid_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_keys_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_keys_previous_key_hash'), ['previous_key_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_keys_updated_at'), ['updated_at'], unique=False)
        batch_op.create_foreign_key('fk_api_keys_team_id_teams', 'teams', ['team_id'], ['id'])
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
    op.create_table(
        'spend_counters',
        sa.Column('subject', sa.String(length=32), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('spent_usd', sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column('requests', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('subject', 'day'),
    )
    # what the keys have spent so far, once, from the log rows that exist
    day = "date(created_at)" if op.get_bind().dialect.name == "sqlite" else "CAST(created_at AS DATE)"
    op.execute("INSERT INTO spend_counters (subject, day, spent_usd, requests) "
               f"SELECT 'key:' || CAST(key_id AS VARCHAR(20)), {day}, COALESCE(SUM(cost_usd), 0), COUNT(*) "
               f"FROM request_logs WHERE key_id IS NOT NULL GROUP BY key_id, {day}")


def downgrade() -> None:
    op.drop_table('spend_counters')
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.drop_column('team_id')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint('fk_api_keys_team_id_teams', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_keys_updated_at'))
        batch_op.drop_index(batch_op.f('ix_api_keys_previous_key_hash'))
        batch_op.drop_index(batch_op.f('ix_api_keys_team_id'))
        for column in ('updated_at', 'previous_valid_until', 'previous_key_hash', 'metadata_json', 'expires_at',
                       'request_quota', 'budget_period', 'tpm_limit', 'team_id'):
            batch_op.drop_column(column)
    op.drop_index(op.f('ix_teams_updated_at'), table_name='teams')
    op.drop_table('teams')
