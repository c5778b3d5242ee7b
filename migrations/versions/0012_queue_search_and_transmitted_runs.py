"""validation queue search index; export runs marked as transmitted (who, when)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00

``ix_reports_description_fts``: a GIN index on ``to_tsvector('french', description)`` for the
validation queue's search (French full-text). ``export_runs`` gains ``transmitted_at``,
``transmitted_by_id``, ``transmitted_actor`` and ``transmitted_role``: a run is marked as
transmitted to DWconnect after it was made, once (idempotent), by a named person. Runs made
with ``mark_transmitted`` before this migration count as transmitted when they were made, by
whoever made them.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_reports_description_fts ON reports "
               "USING gin (to_tsvector('french'::regconfig, description))")
    op.add_column("export_runs", sa.Column("transmitted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("export_runs", sa.Column("transmitted_by_id", sa.Integer(), nullable=True))
    op.add_column("export_runs", sa.Column("transmitted_actor", sa.String(length=254), nullable=True))
    op.add_column("export_runs", sa.Column("transmitted_role", sa.String(length=20), nullable=True))
    op.create_foreign_key("export_runs_transmitted_by_id_fkey", "export_runs", "users",
                          ["transmitted_by_id"], ["id"], ondelete="SET NULL")
    op.execute("UPDATE export_runs SET transmitted_at = created_at, transmitted_by_id = user_id, "
               "transmitted_actor = actor WHERE mark_transmitted")
    op.create_check_constraint("transmitted_when_marked", "export_runs",
                               "(transmitted_at IS NULL) = NOT mark_transmitted")
    op.add_column("export_run_batches", sa.Column("transmitted_change_seqs", sa.ARRAY(sa.BigInteger()),
                                                  nullable=True))


def downgrade() -> None:
    op.drop_column("export_run_batches", "transmitted_change_seqs")
    op.drop_constraint("transmitted_when_marked", "export_runs", type_="check")
    op.drop_constraint("export_runs_transmitted_by_id_fkey", "export_runs", type_="foreignkey")
    op.drop_column("export_runs", "transmitted_role")
    op.drop_column("export_runs", "transmitted_actor")
    op.drop_column("export_runs", "transmitted_by_id")
    op.drop_column("export_runs", "transmitted_at")
    op.execute("DROP INDEX ix_reports_description_fts")
