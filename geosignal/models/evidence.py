"""Evidence attached to a report (optional): speed-test measurements and photos.

Photos are stored re-encoded (JPEG or PNG, every metadata block removed) in PostgreSQL;
:data:`SPEED_TEST_RANGES` bounds each measured value (the service and the database's CHECK
constraints both use it).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    String,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base
from geosignal.vocab import OPERATORS, sql_in_list

#: Accepted range of each speed-test value: name → (minimum, maximum, unit).
SPEED_TEST_RANGES: dict[str, tuple[float, float, str]] = {
    "download_mbps": (0.0, 10_000.0, "Mbit/s"),
    "upload_mbps": (0.0, 10_000.0, "Mbit/s"),
    "latency_ms": (0.0, 60_000.0, "ms"),
    "signal_dbm": (-150.0, -20.0, "dBm"),
}

#: Content types a stored photo may have.
PHOTO_CONTENT_TYPES: tuple[str, ...] = ("image/jpeg", "image/png")


def _range_checks() -> list[CheckConstraint]:
    return [CheckConstraint(f"{name} IS NULL OR {name} BETWEEN {lo!r} AND {hi!r}", name=f"{name}_range")
            for name, (lo, hi, _unit) in SPEED_TEST_RANGES.items()]


class SpeedTest(Base):
    """One speed test measured at the place of a report (values in Mbit/s, ms and dBm)."""

    __tablename__ = "report_speed_tests"
    __table_args__ = (
        *_range_checks(),
        CheckConstraint(f"operator IS NULL OR operator IN ({sql_in_list(OPERATORS)})", name="operator_known"),
        CheckConstraint("num_nonnulls(" + ", ".join(SPEED_TEST_RANGES) + ") > 0", name="some_value"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    download_mbps: Mapped[float | None] = mapped_column(Float)
    upload_mbps: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    signal_dbm: Mapped[float | None] = mapped_column(Float)
    operator: Mapped[str | None] = mapped_column(String(20))
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Photo(Base):
    """A photo of the place of a report, re-encoded without metadata (``data`` is loaded only
    when asked for)."""

    __tablename__ = "report_photos"
    __table_args__ = (
        CheckConstraint(f"content_type IN ({sql_in_list(PHOTO_CONTENT_TYPES)})", name="content_type_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the stored bytes (hex).
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
