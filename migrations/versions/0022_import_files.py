"""saved uploads remembered by their content (a file saved twice is said)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 07:10:00

A representative who uploads the same campaign file again (a day later, or a colleague of the
same commune) stored every report a second time: the duplicate check covers reports filed
seconds before and the rows of one file. ``import_files`` keeps one row per saved upload: the
SHA-256 of its bytes, who saved it and their commune, its name, how many reports it stored
and when; the preview and the save of the same bytes then carry a ``file_already_saved``
warning. Nothing is read from the file's rows here; no live code is imported.
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_files",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("commune_nis", sa.String(5), sa.ForeignKey("communes.nis_code", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("saved", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_import_files_sha256", "import_files", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_import_files_sha256", table_name="import_files")
    op.drop_table("import_files")
