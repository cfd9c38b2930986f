"""request logs: the message the client got with its error; daily usage rollups; the admin scope of a key

A gateway-raised error (invalid_request, rate_limited...) kept only its code; the message answers "why did it
fail?". Clipped to 1,000 characters by the record, scrubbed of provider keys where it was raised.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


LATENCY_BUCKETS = 12      # models/usage_rollup.py: LATENCY_BUCKETS_MS and one more for the slowest


def upgrade() -> None:
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_message', sa.Text(), nullable=True))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_scope', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        'usage_rollups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('provider', sa.String(length=64), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in (
            'requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens')],
        sa.Column('cost_usd', sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column('unpriced', sa.Integer(), nullable=False),
        sa.Column('latency_ms_sum', sa.Float(), nullable=False),
        *[sa.Column(f'lat_b{i}', sa.Integer(), nullable=False) for i in range(LATENCY_BUCKETS)],
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('day', 'key_id', 'team_id', 'model', 'provider', name='uq_usage_rollups_group'),
    )
    op.create_index(op.f('ix_usage_rollups_day'), 'usage_rollups', ['day'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_usage_rollups_day'), table_name='usage_rollups')
    op.drop_table('usage_rollups')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('admin_scope')
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.drop_column('error_message')
