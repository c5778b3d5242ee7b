"""Stored per-commune white-zone aggregates, kept up to date incrementally.

One row per commune, written by :mod:`geosignal.services.aggregation` (full recompute, or a
refresh of only the communes a new, edited or withdrawn report touches). Figures cover the
*counted* statuses (submitted and validated); the status breakdown covers every status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base


class CommuneStats(Base):
    """White-zone figures of one commune (counted statuses: submitted, validated).

    Counts are per report in its home commune (``reports.commune_nis``); areas and lengths
    are the union of the reports' zones / lines clipped to the commune, in EPSG:31370 (m², m).
    ``white_zone`` and ``line_union`` keep those unions (EPSG:4326) so that a new report is
    merged in without recomputing the whole commune.
    """

    __tablename__ = "commune_stats"

    nis_code: Mapped[str] = mapped_column(
        String(5), ForeignKey("communes.nis_code", ondelete="CASCADE"), primary_key=True
    )
    report_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    point_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    line_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    zone_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Sum of ``households_affected`` declared by the reports counted here.
    households_declared: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Area (m², EPSG:31370) of the union of zone reports clipped to the commune.
    white_zone_m2: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    #: Length (m, EPSG:31370) of the union of line reports clipped to the commune.
    line_length_m: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    #: Report counts by ``network``, ``technology``, ``operator``, ``issue``, ``status``.
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    white_zone: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)
    )
    line_union: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTILINESTRING", srid=4326, spatial_index=False)
    )
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
