"""White-zone reports, and the idempotency keys that make POSTs safe to repeat."""

from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    FetchedValue,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from geosignal.db import Base
from geosignal.models.commune import Commune
from geosignal.models.user import User
from geosignal.vocab import (
    GEOMETRY_TYPES,
    ISSUES,
    NETWORKS,
    OPERATORS,
    SETTINGS,
    STATUSES,
    TECHNOLOGIES,
    sql_in_list,
)

_ST_TYPES = sql_in_list(tuple(f"ST_{t}" for t in GEOMETRY_TYPES))


class Report(Base):
    """A white-zone report: a point, line or zone (or their Multi forms) with its attributes.

    ``geometry`` is 2D EPSG:4326. ``commune_nis`` is the commune holding the largest part of
    the geometry (area for zones, length for lines, count for points; ties go to the
    smallest NIS code).
    """

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(f"ST_GeometryType(geometry) IN ({_ST_TYPES})", name="geometry_type_known"),
        CheckConstraint("NOT ST_IsEmpty(geometry)", name="geometry_not_empty"),
        CheckConstraint(f"network IN ({sql_in_list(NETWORKS)})", name="network_known"),
        CheckConstraint(
            f"technologies <@ ARRAY[{sql_in_list(TECHNOLOGIES)}]::varchar[]", name="technologies_known"
        ),
        CheckConstraint(f"operators <@ ARRAY[{sql_in_list(OPERATORS)}]::varchar[]", name="operators_known"),
        CheckConstraint(f"issue IS NULL OR issue IN ({sql_in_list(ISSUES)})", name="issue_known"),
        CheckConstraint(f"setting IS NULL OR setting IN ({sql_in_list(SETTINGS)})", name="setting_known"),
        CheckConstraint(f"status IN ({sql_in_list(STATUSES)})", name="status_known"),
        CheckConstraint("households_affected IS NULL OR households_affected >= 0", name="households_non_negative"),
        CheckConstraint("businesses_affected IS NULL OR businesses_affected >= 0", name="businesses_non_negative"),
        Index("ix_reports_updated_at_id", "updated_at", "id"),
        # the grid cells a zone or line touches (function installed with the stored figures'
        # SQL, services/aggregation/stored_sql.py): how the stored figures find reports
        Index("ix_reports_grid_cells", text("report_grid_cells(geometry)"), postgresql_using="gin",
              postgresql_where=text("st_dimension(geometry) > 0"), postgresql_with={"fastupdate": "off"}),
        #: French full-text search in the descriptions (the validation queue, migration 0012).
        Index("ix_reports_description_fts", text("to_tsvector('french'::regconfig, description)"),
              postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: Insertion order, for stable paging (a cursor is the last ``seq`` seen).
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    #: Readable reference ``CM-YYYY-NNNNN`` (year of creation, Brussels time; a number from
    #: the sequence ``reports_reference_seq``, never reused, five digits or more), given by
    #: the server default so that COPY and set-wise imports get one too (migration 0009).
    reference: Mapped[str] = mapped_column(String(20), server_default=text("report_reference_next()"),
                                           unique=True)
    geometry: Mapped[WKBElement] = mapped_column(
        Geometry("GEOMETRY", srid=4326, dimension=2, spatial_index=True, nullable=False)
    )
    commune_nis: Mapped[str] = mapped_column(ForeignKey("communes.nis_code"), index=True)
    network: Mapped[str] = mapped_column(String(10))
    technologies: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list, server_default="{}")
    operators: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list, server_default="{}")
    issue: Mapped[str | None] = mapped_column(String(20))
    setting: Mapped[str | None] = mapped_column(String(10))
    households_affected: Mapped[int | None] = mapped_column(Integer)
    businesses_affected: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), default="submitted", server_default="submitted", index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    #: Change sequence: a fresh value of ``reports_change_seq`` on every insert and update,
    #: set by the trigger ``reports_change_seq`` (migration 0003) after taking a shared
    #: advisory lock, so that exports can page incrementally without skipping a change.
    change_seq: Mapped[int] = mapped_column(
        BigInteger, server_default=text("nextval('reports_change_seq')"),
        server_onupdate=FetchedValue(), index=True,
    )
    # The report as the DWconnect export writes it is stored in ``report_features``
    # (geosignal.models.export.ReportFeature), written set-wise by triggers (migration 0007).

    commune: Mapped[Commune] = relationship()
    reporter: Mapped[User | None] = relationship()


class IdempotencyKey(Base):
    """The first result of a POST carrying an ``Idempotency-Key``, per user.

    A repeat with the same key and body returns the stored result; the same key with another
    body is refused (``idempotency_key_reused``).
    """

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict] = mapped_column(JSONB)
    location: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
