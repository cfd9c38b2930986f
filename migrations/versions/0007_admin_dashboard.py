"""admin dashboard and log filters: fallbacks, streams and gateway overhead in the daily rollups; an index for
every column the request-log page filters on

The dashboard reads the rollups only (never the raw log), so what it shows has to be summed there: the fallback
rate, the share of streams, and the gateway's own overhead as a sum and a histogram (OVERHEAD_BUCKETS_MS in
models/usage_rollup.py, finer than the latency buckets: overhead is a few milliseconds). Rollups written before
this revision count 0 of each, which the dashboard shows as no data for those days' overhead.

The log page filters by team, error code, fallback and stream as well as by key, model, provider, status and date;
each gets a (column, created_at) index so a filtered page is an index range walked newest first.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OVERHEAD_BUCKETS = 11     # models/usage_rollup.py: OVERHEAD_BUCKETS_MS and one more for the slowest
INDEXES = {"ix_request_logs_team_created": ["team_id", "created_at"],
           "ix_request_logs_error_created": ["error_code", "created_at"],
           "ix_request_logs_fallback_created": ["fallback_used", "created_at"],
           "ix_request_logs_stream_created": ["stream", "created_at"]}


def upgrade() -> None:
    with op.batch_alter_table('usage_rollups', schema=None) as batch_op:
        for name in ('fallbacks', 'streams'):
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('overhead_ms_sum', sa.Float(), nullable=False, server_default='0'))
        for i in range(OVERHEAD_BUCKETS):
            batch_op.add_column(sa.Column(f'ovh_b{i}', sa.Integer(), nullable=False, server_default='0'))
    for name, columns in INDEXES.items():
        op.create_index(name, 'request_logs', columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='request_logs')
    with op.batch_alter_table('usage_rollups', schema=None) as batch_op:
        for i in range(OVERHEAD_BUCKETS):
            batch_op.drop_column(f'ovh_b{i}')
        for name in ('overhead_ms_sum', 'streams', 'fallbacks'):
            batch_op.drop_column(name)
