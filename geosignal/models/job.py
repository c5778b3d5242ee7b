"""Import jobs: a saved upload too large to be stored within one request, run by a job
worker (procrastinate, whose queue lives in the same PostgreSQL database)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    String,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base
from geosignal.vocab import sql_in_list

#: States of an import job, in order: ``queued`` → ``running`` → ``done`` | ``failed``.
JOB_STATES = ("queued", "running", "done", "failed")


class ImportJob(Base):
    """One saved upload run as a job.

    ``upload`` holds the file's bytes until the job ends; ``options`` the import options
    (``crs``, ``repair``, ``column_map``, ``default_network``, ``mode``…) and ``acting_as``,
    the role and commune the user queued it in, and what asked: the API token, or from a
    signed-in session a digest of the password hash (a job whose account is deactivated or
    changed, whose token is revoked or whose password is set again by the time it runs fails
    ``forbidden`` and stores nothing). ``rows_done`` /
    ``rows_total`` tell the progress (features validated and stored). At the end ``result``
    holds the whole answer of ``GET /api/v1/imports/<id>`` (gzip-compressed JSON: state,
    counts and the per-feature report; for ``failed``, the ``error`` problem document), and
    ``error_code`` the code of a failure.
    """

    __tablename__ = "import_jobs"
    __table_args__ = (CheckConstraint(f"state IN ({sql_in_list(JOB_STATES)})", name="state_known"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB)
    upload: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(8), default="queued", server_default="queued")
    rows_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rows_total: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[bytes | None] = mapped_column(LargeBinary)
    error_code: Mapped[str | None] = mapped_column(String(40))
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportFile(Base):
    """One saved upload, by its content: the SHA-256 of the file's bytes (hex), who saved it
    (``user_id``, and their commune when they represent one), its name, how many reports it
    stored and when. A later upload of the same bytes by the same user or commune is said
    (``file_already_saved`` warning), so that a campaign file is not stored twice unnoticed."""

    __tablename__ = "import_files"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    commune_nis: Mapped[str | None] = mapped_column(ForeignKey("communes.nis_code", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    saved: Mapped[int] = mapped_column(Integer)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: the digests of the rows it stored, sorted little-endian uint64s
    #: (:func:`geosignal.services.imports.row_digests`): an edited copy's unchanged rows are
    #: said (``row_saved_before`` warnings)
    row_digests: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: for each report it stored, in one order: the digest of its place alone (little-endian
    #: uint64s, :func:`geosignal.services.imports.place_digests`) and its id (16 bytes each):
    #: a later upload's row of the same place with other values names that report
    #: (``same_place_saved_before`` warning)
    place_digests: Mapped[bytes | None] = mapped_column(LargeBinary)
    report_ids: Mapped[bytes | None] = mapped_column(LargeBinary)
