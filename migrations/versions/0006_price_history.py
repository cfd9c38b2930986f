"""price history: a row per price a model had or will have; each log row points at the row that priced it and
keeps every usage field its cost was computed from

Every model with prices gets one row now, at its current price_version, effective from the beginning of time (so
old log rows, priced by it or an earlier version, stay explainable by version).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

RATES = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok",
         "cache_write_1h_per_mtok", "reasoning_per_mtok", "audio_input_per_mtok")


def upgrade() -> None:
    op.create_table(
        'price_rows',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=200), nullable=False),
        sa.Column('effective_from', sa.DateTime(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        *[sa.Column(c, sa.Numeric(precision=12, scale=6), nullable=True) for c in RATES],
        sa.Column('rules', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('slug', 'effective_from', name='uq_price_rows_slug_from'),
    )
    op.create_index(op.f('ix_price_rows_slug'), 'price_rows', ['slug'], unique=False)
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_id', sa.Integer(), nullable=True))
        for column in ('cache_write_tokens', 'cache_write_1h_tokens', 'audio_input_tokens'):
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
    op.execute("INSERT INTO price_rows (slug, effective_from, version, input_per_mtok, output_per_mtok, "
               "cached_input_per_mtok, cache_write_per_mtok, created_at) "
               "SELECT slug, '1970-01-01 00:00:00', price_version, input_per_mtok, output_per_mtok, "
               "cached_input_per_mtok, cache_write_per_mtok, CURRENT_TIMESTAMP FROM models "
               "WHERE input_per_mtok IS NOT NULL OR output_per_mtok IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        for column in ('audio_input_tokens', 'cache_write_1h_tokens', 'cache_write_tokens', 'price_id'):
            batch_op.drop_column(column)
    op.drop_index(op.f('ix_price_rows_slug'), table_name='price_rows')
    op.drop_table('price_rows')
