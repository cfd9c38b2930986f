"""the Responses API: a provider's `responses` mode, and stored responses

`providers.responses` is "native" or "translate" (NULL: the default for the provider's name).
`stored_responses` holds what previous_response_id and GET /v1/responses/{id} read, scoped to a key; the
created_at index serves the retention purge.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('responses', sa.String(length=16), nullable=True))
    op.create_table(
        'stored_responses',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('model', sa.String(length=200), nullable=True),
        sa.Column('previous_response_id', sa.String(length=64), nullable=True),
        sa.Column('history', sa.Text(), nullable=False),
        sa.Column('input_items', sa.Text(), nullable=False),
        sa.Column('response', sa.Text(), nullable=False),
        sa.Column('deleted_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_stored_responses_key_id'), 'stored_responses', ['key_id'], unique=False)
    op.create_index(op.f('ix_stored_responses_created_at'), 'stored_responses', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_stored_responses_created_at'), table_name='stored_responses')
    op.drop_index(op.f('ix_stored_responses_key_id'), table_name='stored_responses')
    op.drop_table('stored_responses')
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('responses')
