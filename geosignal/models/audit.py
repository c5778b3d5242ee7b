"""The audit trail: an append-only journal of every change to reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base


class AuditEvent(Base):
    """One recorded change: who (user id, their role and commune at the time), when, which
    action, on which report (None for an event about no single report, e.g. an export run),
    the status before and after, the reason or note, the values before and after (geometry
    as RFC 7946 GeoJSON, EPSG:4326) and free details (import, export run id…).

    The table is append-only, enforced in PostgreSQL (migration 0009): a trigger refuses
    ``UPDATE``, ``DELETE`` and ``TRUNCATE``, and those privileges are revoked from
    ``PUBLIC`` and the application's role. No foreign key to ``reports`` or ``users``: the
    journal outlives whatever it describes and costs no per-row check on bulk inserts.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_report_id_id", "report_id", "id"),
        Index("ix_audit_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(String(30), index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    actor_commune_nis: Mapped[str | None] = mapped_column(String(5))
    report_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    commune_nis: Mapped[str | None] = mapped_column(String(5), index=True)
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
