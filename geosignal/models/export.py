"""Export runs: every DWconnect export (GeoJSON, CSV, GeoPackage) produced over HTTP or the CLI.

A run records who asked, when, with which filters, how many reports it carried, the SHA-256
of the exact bytes sent and those bytes themselves (gzip-compressed, in chunks), so that the
referent can download a past export again byte for byte. The reports a run carried are kept
with the ``change_seq`` they had when sent; a run made with ``mark_transmitted`` marks them
as transmitted to DWconnect (a report is *transmitted in its current state* when such a run
carried it with its current ``change_seq``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from geosignal.db import Base

#: Formats an export run may have.
EXPORT_FORMATS: tuple[str, ...] = ("geojson", "csv", "gpkg")
#: Where a run was asked from.
EXPORT_CHANNELS: tuple[str, ...] = ("api", "cli")


class ExportRun(Base):
    """One export as it was sent: filters, count, checksum, and its bytes (see the chunks)."""

    __tablename__ = "export_runs"
    __table_args__ = (
        CheckConstraint("format IN ('geojson', 'csv', 'gpkg')", name="format_known"),
        CheckConstraint("channel IN ('api', 'cli')", name="channel_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    #: The user who asked (None from the CLI or once the user is deleted).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Who asked, frozen as text: the user's e-mail, or ``cli:<login>``.
    actor: Mapped[str] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(8))
    format: Mapped[str] = mapped_column(String(8))
    media_type: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str] = mapped_column(String(120))
    #: The filters as given (status, commune, bbox, since, cursor, limit, options).
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    schema_version: Mapped[str] = mapped_column(String(20))
    #: Reports carried (features written).
    feature_count: Mapped[int] = mapped_column(Integer)
    #: Reports matching the filters but left out because rounding collapsed their geometry.
    excluded_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    byte_count: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 (hex) of the exact bytes sent.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Highest report ``change_seq`` committed when the run started: ``since`` of the next run.
    watermark: Mapped[int] = mapped_column(BigInteger)
    mark_transmitted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    reports: Mapped[list[ExportRunReport]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class ExportRunReport(Base):
    """A report an export run carried, with the ``change_seq`` (state) it had then."""

    __tablename__ = "export_run_reports"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("export_runs.id", ondelete="CASCADE"), primary_key=True)
    #: No foreign key: the history outlives a deleted report.
    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    change_seq: Mapped[int] = mapped_column(BigInteger)


class ExportRunChunk(Base):
    """A piece of an export run's bytes, gzip-compressed; ``n`` orders them from 0."""

    __tablename__ = "export_run_chunks"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("export_runs.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
