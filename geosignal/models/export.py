"""Export runs: every DWconnect export (GeoJSON, CSV, GeoPackage) produced over HTTP or the CLI.

A run records who asked, when, with which filters, how many reports it carried, the SHA-256
of the exact bytes sent and those bytes themselves (gzip-compressed, in chunks), so that the
referent can download a past export again byte for byte. The reports a run carried are kept
with the ``change_seq`` they had when sent, set-wise: one row per batch of reports (arrays of
ids and change sequences, in insertion order), not one row per report. A run made with
``mark_transmitted`` marks them as transmitted to DWconnect (a report is *transmitted in its
current state* when such a run carried it with its current ``change_seq``).

Each report's exported Feature is stored in ``report_features`` (:class:`ReportFeature`),
written by statement-level triggers (migration 0007) whenever reports are written.
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
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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
        CheckConstraint("(transmitted_at IS NULL) = NOT mark_transmitted", name="transmitted_when_marked"),
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
    #: Confirmed zones carried (the GeoJSON document's ``zones``; CSV and GeoPackage carry none).
    zone_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Confirmed zones said gone since (the document's ``zones_removed``).
    zones_removed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    byte_count: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 (hex) of the exact bytes sent.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Highest report ``change_seq`` committed when the run started: ``since`` of the next run.
    watermark: Mapped[int] = mapped_column(BigInteger)
    #: Whether the run was sent to DWconnect (set when made with ``mark_transmitted``, or later
    #: by :func:`geosignal.services.export.transmission.mark_transmitted`).
    mark_transmitted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    #: When and by whom the run was marked as transmitted (None: not transmitted).
    transmitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transmitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Who marked it, frozen as text (the user's e-mail, or ``cli:<login>``), and their role.
    transmitted_actor: Mapped[str | None] = mapped_column(String(254))
    transmitted_role: Mapped[str | None] = mapped_column(String(20))

    batches: Mapped[list[ExportRunBatch]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class ExportRunBatch(Base):
    """A batch of the reports an export run carried, in insertion order: their ids (16 bytes
    each, packed: a ``uuid[]`` costs ~1.5 µs per id to parse and store) and the ``change_seq``
    (state) each had then, in parallel; ``first_seq`` and ``last_seq`` bound their insertion
    ``seq`` (to find the batch that may hold a report)."""

    __tablename__ = "export_run_batches"
    __table_args__ = (
        CheckConstraint("length(report_ids) = 16 * cardinality(change_seqs)", name="arrays_parallel"),
        Index("ix_export_run_batches_seq_range", "last_seq", "first_seq"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("export_runs.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    #: The reports' UUIDs, 16 bytes each, concatenated. No foreign key: the history outlives a
    #: deleted report.
    report_ids: Mapped[bytes] = mapped_column(LargeBinary)
    change_seqs: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    #: Once the run is marked as transmitted: each report's ``change_seq`` right after the
    #: marking (its move to ``transmitted`` included; unchanged for a report that did not move),
    #: so that a report changed by nothing but its transmission is still *current*.
    transmitted_change_seqs: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))


class ExportRunChunk(Base):
    """A piece of an export run's bytes, gzip-compressed; ``n`` orders them from 0."""

    __tablename__ = "export_run_chunks"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("export_runs.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ReportFeature(Base):
    """A report's Feature as the DWconnect GeoJSON export writes it (text), and whether its
    geometry collapses when rounded to 6 decimals; keyed by the report's insertion ``seq``.

    Written only by the statement-level triggers of ``reports`` (migration 0007, SQL from
    :func:`geosignal.services.export.sql.feature_function_sql`): never by the application.
    """

    __tablename__ = "report_features"

    #: ``reports.seq`` (no foreign key: a per-row check would cost bulk loads; a trigger
    #: removes the Features of deleted reports).
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    feature_json: Mapped[str] = mapped_column(Text)
    feature_collapsed: Mapped[bool] = mapped_column(Boolean)
