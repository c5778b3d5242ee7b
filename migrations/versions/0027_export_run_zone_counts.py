"""export runs count the zones they carried and said removed (a run of zones only is one to send)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 14:00:00

Since 0026 an incremental GeoJSON export carries the confirmed zones changed since its
``since`` and lists those gone (``zones_removed``), even when no report changed. Its run kept
only the reports it carried (``feature_count``), so a run of zone changes alone read as an
export of nothing: the exports page said "rien à transmettre" and offered no mark, although
DWconnect still had to receive it (and ``since=last_transmitted`` to move past it).
``zone_count`` and ``zones_removed_count`` keep those two numbers. Runs made before this
revision carried zones uncounted: they are 0. No live code is imported.
"""
import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("export_runs", sa.Column("zone_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("export_runs", sa.Column("zones_removed_count", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("export_runs", "zones_removed_count")
    op.drop_column("export_runs", "zone_count")
