"""request logs: the message the client got with its error

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


def upgrade() -> None:
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_message', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.drop_column('error_message')
