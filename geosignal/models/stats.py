"""Stored per-commune white-zone figures, kept exact by the ``reports`` triggers.

``commune_stats`` holds one row per commune (the commune lock, see
:mod:`geosignal.services.aggregation.stored`); ``commune_cells`` the commune cut by a 1 km grid
with, per cell, the piece of the white-zone union and of the line union inside it;
``commune_counts`` the report counts by dimension and value. Figures cover the *counted*
statuses (submitted and validated); the status counts cover every status. Cells and counts
go with their commune's row (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base


class CommuneStats(Base):
    """One commune's stored figures exist (its cells and counts are up to date).

    Writers lock it ``FOR SHARE``, rebuilds ``FOR UPDATE``; deleting it drops the commune's
    cells and counts, which the next write touching the commune (or ``refresh-stats``)
    rebuilds.
    """

    __tablename__ = "commune_stats"

    nis_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("communes.nis_code", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CommuneCell(Base):
    """One 1 km grid cell of a commune and the pieces of its unions inside it.

    ``i``, ``j``: the cell's column and row (``floor(x / 1000)``, ``floor(y / 1000)`` in
    EPSG:31370; btree ``ix_commune_cells_i_j`` finds the cells of a geometry's grid cells, see
    :mod:`geosignal.services.aggregation.stored_sql`). ``clip``: the cell square cut to the
    commune (EPSG:31370, the working geometry; no GiST index: the stored figures never rely on
    one).
    ``zone`` / ``line``: the union of the counted zones / lines clipped to ``clip``
    (EPSG:4326, None when none); ``zone_m2`` / ``line_m``: their area (m²) and length (m)
    measured in EPSG:31370.
    """

    __tablename__ = "commune_cells"
    __table_args__ = (
        Index("ix_commune_cells_i_j", "i", "j"),
        # the commune table sums the figures of each commune's cells from this index alone
        Index("ix_commune_cells_sums", "nis_code", postgresql_include=["zone_m2", "line_m"]),
    )

    nis_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("commune_stats.nis_code", ondelete="CASCADE"), primary_key=True
    )
    i: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    j: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    clip: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=31370, spatial_index=False, nullable=False)
    )
    zone: Mapped[WKBElement | None] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    line: Mapped[WKBElement | None] = mapped_column(Geometry("MULTILINESTRING", srid=4326, spatial_index=False))
    zone_m2: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    line_m: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class CommuneCount(Base):
    """A count of one commune's reports: ``dim`` ∈ ``reports`` (value ''), ``kind`` (point,
    line, zone), ``households`` (value '': sum of households declared), ``network``,
    ``technology``, ``operator``, ``issue`` (counted statuses) and ``status`` (every status).

    Each writing transaction adds to its own ``shard`` (txid modulo 8), so that writers of one
    commune do not wait for each other's commit; the figure is the sum over shards.
    """

    __tablename__ = "commune_counts"

    nis_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("commune_stats.nis_code", ondelete="CASCADE"), primary_key=True
    )
    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)
