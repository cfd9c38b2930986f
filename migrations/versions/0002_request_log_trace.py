"""request logs: the client's own request id and its W3C traceparent

Our minted request_id stays the unique key (request_attempts refer to it); a client's X-Request-Id may repeat,
so it has a column of its own, indexed but not unique: a repeated id never costs a log row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_request_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('traceparent', sa.String(length=55), nullable=True))
        batch_op.create_index(batch_op.f('ix_request_logs_client_request_id'), ['client_request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_logs_client_request_id'))
        batch_op.drop_column('traceparent')
        batch_op.drop_column('client_request_id')
