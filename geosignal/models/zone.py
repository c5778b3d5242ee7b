"""Zones: reports of one network that speak of the same place, grouped by PostgreSQL.

The tables are written by the ``reports`` triggers and the referent's decisions only (SQL in
:mod:`geosignal.services.zones_sql`, migration 0010); the application reads them.
``zone_reports`` and ``zone_decision_reports`` carry no foreign key to ``reports`` (a per-row
check would cost bulk loads): the triggers remove the rows of deleted reports. Nor does
``zone_reports.zone_id`` reference ``zones`` (migration 0019: the check cost 1.4 s of a
200,000-report import's zone pass); the zone functions, its only writers, move or delete a
zone's members before the zone.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base
from geosignal.services.zones_sql import DECISION_KINDS, ZONE_STATES
from geosignal.vocab import NETWORKS, sql_in_list


class Zone(Base):
    """Two or more reports of one network grouped as one place.

    ``geometry``: the union of the reports' geometries (EPSG:4326; a GeometryCollection when
    points or lines join zones). ``technologies`` / ``operators``: the union of the reports'
    (vocabulary order). ``commune_nis``: the commune holding the largest part of the union
    (the home-commune rule of every report). ``state``: ``proposed`` (grouped automatically)
    or ``confirmed`` (by the referent).
    """

    __tablename__ = "zones"
    __table_args__ = (
        CheckConstraint(f"state IN ({sql_in_list(ZONE_STATES)})", name="state_known"),
        CheckConstraint(f"network IN ({sql_in_list(NETWORKS)})", name="network_known"),
        CheckConstraint("report_count >= 2", name="two_reports_or_more"),
        Index("ix_zones_commune_nis_network", "commune_nis", "network"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    network: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), index=True)
    geometry: Mapped[WKBElement] = mapped_column(
        Geometry("GEOMETRY", srid=4326, dimension=2, spatial_index=True, nullable=False)
    )
    technologies: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{}")
    operators: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{}")
    report_count: Mapped[int] = mapped_column(Integer)
    commune_nis: Mapped[str] = mapped_column(ForeignKey("communes.nis_code"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ZoneReport(Base):
    """A report's zone (a report is in one zone at most), with the report's commune and network
    as the zone pass counted them (:class:`ZoneCount`)."""

    __tablename__ = "zone_reports"
    __table_args__ = (Index("ix_zone_reports_commune_nis_network", "commune_nis", "network"),)

    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    zone_id: Mapped[int] = mapped_column(BigInteger, index=True)
    commune_nis: Mapped[str] = mapped_column(String(5))
    network: Mapped[str] = mapped_column(String(10))


class ZoneCount(Base):
    """The places a commune counts for one network, stored by the zone pass: ``zones`` (zones
    whose home commune it is), ``confirmed`` (of those, confirmed), ``reports`` (its reports
    that are in a zone). Each pass recomputes the rows of the (commune, network) pairs it
    touched from ``zones`` and ``zone_reports``, under the network's lock; no row when all
    three are 0."""

    __tablename__ = "zone_counts"

    nis_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    network: Mapped[str] = mapped_column(String(10), primary_key=True)
    zones: Mapped[int] = mapped_column(Integer)
    confirmed: Mapped[int] = mapped_column(Integer)
    reports: Mapped[int] = mapped_column(Integer)


class ZoneChange(Base):
    """The latest change of a confirmed zone as incremental exports see it (migration 0026):
    made, changed (members, geometry, state, network, technologies, operators, home commune),
    removed or no longer confirmed. ``change_seq`` is a number of the reports' change sequence,
    taken under the lock an export's watermark waits for, so that ``since=seq:<n>`` orders
    reports and zones together. One row per zone id, kept after the zone is gone (the export's
    ``zones_removed``); no foreign key to ``zones`` for that reason. Written by the zone pass
    (``zones_log_changes``) only."""

    __tablename__ = "zone_changes"

    zone_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ZoneDecision(Base):
    """A decision of the referent on reports of one network: ``confirmed`` (they stay one
    zone) or ``apart`` (reports split off a zone: they group only with each other)."""

    __tablename__ = "zone_decisions"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in_list(DECISION_KINDS)})", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    network: Mapped[str] = mapped_column(String(10))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ZoneDecisionReport(Base):
    """The latest decision taken on a report (its cohort)."""

    __tablename__ = "zone_decision_reports"

    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("zone_decisions.id", ondelete="CASCADE"), index=True)


class ZoneSetting(Base):
    """The grouping distance in force (one row): set from ``GEOSIGNAL_ZONE_DISTANCE_M`` by
    ``geosignal init-db`` or ``geosignal regroup-zones``, which regroup every report when it
    changes (:func:`geosignal.services.zones.apply_distance`)."""

    __tablename__ = "zone_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("distance_m >= 0", name="distance_non_negative"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    distance_m: Mapped[float] = mapped_column(Float)
