"""saved uploads remember the place of each report they stored (a changed row is said)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 05:00:00

0023 made a saved upload remember its rows (place and attributes), so that an edited copy's
unchanged rows are said. A row whose values were corrected in the copy (same place, other
households, another operator) matched nothing and was stored as a second report of the same
place, without a word. Each saved upload now also keeps, for every report it stored and in
the same order, the digest of its place alone (``place_digests``: 8 bytes each) and the
report's id (``report_ids``: 16 bytes each), so that a later upload can name the report a
changed row would repeat. Saves made before this revision have none (NULL); no live code is
imported.
"""
import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("import_files", sa.Column("place_digests", sa.LargeBinary(), nullable=True))
    op.add_column("import_files", sa.Column("report_ids", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("import_files", "report_ids")
    op.drop_column("import_files", "place_digests")
