"""saved uploads remember their rows (an edited copy's unchanged rows are said)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 09:30:00

``import_files`` (0022) catches the same bytes uploaded again, not an edited copy: a campaign
file with two rows corrected and saved again stored every other row a second time. Each saved
upload now keeps ``row_digests``: one 8-byte digest per report it stored (geometry up to vertex
order, and attributes), sorted, as one ``bytea``. The preview and the save of a later upload
compare their rows with those of the latest saves of the user or their commune. Saves made
before this revision have none (NULL): nothing is read back from ``reports`` here, and no
live code is imported.
"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("import_files", sa.Column("row_digests", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("import_files", "row_digests")
