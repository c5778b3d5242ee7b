"""the cells' areas and lengths read from an index (the commune table at 581 communes)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 23:30:00

The stored commune table sums each commune's cell pieces (``zone_m2``, ``line_m``). Those sums
read the whole ``commune_cells`` heap, where every row carries its clip and its pieces: at the
581 Belgian communes (44,392 cells, 22 MB) that scan took 25–45 ms, and it ran twice (once
per sum). A covering index on ``nis_code`` that includes both figures lets the read sum them
with an index-only scan (1.5 MB, 7 ms). Cells are still written only by the figures'
functions, under their locks; the index changes nothing they compute.
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_commune_cells_sums", "commune_cells", ["nis_code"],
                    postgresql_include=["zone_m2", "line_m"])
    op.execute(sa.text("ANALYZE commune_cells"))


def downgrade() -> None:
    op.drop_index("ix_commune_cells_sums", table_name="commune_cells")
