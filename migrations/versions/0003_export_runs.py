"""export runs, and a change sequence on reports for incremental exports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 22:10:00

``reports.change_seq`` takes a fresh value of the sequence ``reports_change_seq`` on every
insert and update. The trigger first takes a *shared* transaction-level advisory lock
(key :data:`CHANGE_LOCK_KEY`); an export takes the same key *exclusively* for an instant
to read its watermark, so no change numbered below the watermark can still be uncommitted
(see geosignal/services/export.py).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = "0002"
branch_labels = None
depends_on = None

#: Advisory lock key shared with geosignal.services.export.CHANGE_LOCK_KEY ("gsig").
CHANGE_LOCK_KEY = 0x67736967


def upgrade() -> None:
    # not OWNED BY the column: alembic would then read the column as a serial and lose its default
    op.execute("CREATE SEQUENCE reports_change_seq AS bigint")
    op.add_column('reports', sa.Column('change_seq', sa.BigInteger(),
                                       server_default=sa.text("nextval('reports_change_seq')"),
                                       nullable=False))
    op.create_index(op.f('ix_reports_change_seq'), 'reports', ['change_seq'], unique=False)
    op.execute(f"""
        CREATE FUNCTION reports_next_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_advisory_xact_lock_shared({CHANGE_LOCK_KEY});
          NEW.change_seq := nextval('reports_change_seq');
          RETURN NEW;
        END $$""")
    op.execute("CREATE TRIGGER reports_change_seq BEFORE INSERT OR UPDATE ON reports "
               "FOR EACH ROW EXECUTE FUNCTION reports_next_change_seq()")
    op.create_table('export_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('media_type', sa.String(length=120), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('filters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('schema_version', sa.String(length=20), nullable=False),
    sa.Column('feature_count', sa.Integer(), nullable=False),
    sa.Column('excluded_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('byte_count', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('watermark', sa.BigInteger(), nullable=False),
    sa.Column('mark_transmitted', sa.Boolean(), server_default='false', nullable=False),
    sa.CheckConstraint("channel IN ('api', 'cli')", name='channel_known'),
    sa.CheckConstraint("format IN ('geojson', 'csv', 'gpkg')", name='format_known'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_export_runs_created_at'), 'export_runs', ['created_at'], unique=False)
    op.create_table('export_run_chunks',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('n', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['export_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'n')
    )
    op.create_table('export_run_reports',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('report_id', sa.Uuid(), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['export_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'report_id')
    )
    op.create_index(op.f('ix_export_run_reports_report_id'), 'export_run_reports', ['report_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_export_run_reports_report_id'), table_name='export_run_reports')
    op.drop_table('export_run_reports')
    op.drop_table('export_run_chunks')
    op.drop_index(op.f('ix_export_runs_created_at'), table_name='export_runs')
    op.drop_table('export_runs')
    op.execute("DROP TRIGGER reports_change_seq ON reports")
    op.execute("DROP FUNCTION reports_next_change_seq()")
    op.drop_index(op.f('ix_reports_change_seq'), table_name='reports')
    op.drop_column('reports', 'change_seq')
    op.execute("DROP SEQUENCE reports_change_seq")
