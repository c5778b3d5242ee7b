"""The e-mail outbox: notifications written in the same transaction as the change they tell.

A row is one thing one user is told: a report submitted (to each referent) or a report's
status changed (to the representatives of its commune), as the recipient chose
(``users.notification_mail``: each change, a daily digest, or nothing; no row for nothing). Rows written by one statement share
``batch`` (one value of the sequence ``notification_batch_seq``), so that a bulk transition or
an import becomes one message per recipient, not one per report. A job worker (or ``geosignal send-mail``) leases the
pending rows (``leased_by``, ``leased_until``), sends them outside any transaction and marks them ``sent``; a failed delivery is retried later (``next_attempt_at``)
up to :data:`MAX_ATTEMPTS` times, then left ``failed``. Users who chose the daily digest
get their rows (``delivery = 'digest'``) in one message a day per kind
(``geosignal send-digest``).
"""

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
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base
from geosignal.vocab import sql_in_list

#: What a notification tells: a new submission (to referents), a status change (to the
#: representatives of the report's commune), a withdrawal by the commune of a report the
#: referent validated, that an export carried or that was in a confirmed zone (to referents).
NOTIFICATION_KINDS: tuple[str, ...] = ("submission", "transition", "withdrawal")
#: How a user chooses to get the notifications they are sent (``users.notification_mail``; the
#: referent's submissions, a representative's status changes): one message per event (per
#: transaction), a daily digest, or none. The one declaration of these choices.
NOTIFICATION_MAIL_CHOICES: tuple[str, ...] = ("each", "digest", "none")
#: How an outbox row is delivered: the recipient's choice when it was written (``none``
#: writes no row).
OUTBOX_DELIVERIES: tuple[str, ...] = tuple(c for c in NOTIFICATION_MAIL_CHOICES if c != "none")
#: States of an outbox row: waiting (or waiting for a retry), sent, given up after
#: :data:`MAX_ATTEMPTS` failures, or dropped because no SMTP server is configured.
OUTBOX_STATES: tuple[str, ...] = ("pending", "sent", "failed", "skipped")
#: Deliveries tried before a row is left ``failed``.
MAX_ATTEMPTS = 8


class Notification(Base):
    """One notification to one user, waiting in (or done with) the outbox."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in_list(NOTIFICATION_KINDS)})", name="kind_known"),
        CheckConstraint(f"delivery IN ({sql_in_list(OUTBOX_DELIVERIES)})", name="delivery_known"),
        CheckConstraint(f"state IN ({sql_in_list(OUTBOX_STATES)})", name="state_known"),
        Index("ix_notification_outbox_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    #: The status before and after (a submission: ``to_status`` = ``submitted``).
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    #: The reason, question, answer or note given with the transition.
    reason: Mapped[str | None] = mapped_column(Text)
    #: The role of who made the change (never their name or address).
    actor_role: Mapped[str | None] = mapped_column(String(20))
    #: A withdrawal's facts as they were when it happened: ``{"exports": [{"at", "transmitted_at"}]``
    #: (the runs that carried the report, ISO 8601; ``transmitted_at`` None: not marked as sent),
    #: ``"zone"`` (the confirmed zone it was in), ``"zone_removed"`` (bool), ``"zone_reports"``
    #: (the zone's reports left)}; None for other kinds.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    #: ``each`` (sent by the next flush) or ``digest`` (waits for the daily digest).
    delivery: Mapped[str] = mapped_column(String(6), default="each", server_default="each")
    #: The statement that wrote the row: rows of one batch and one recipient make one message.
    batch: Mapped[int] = mapped_column(BigInteger, server_default=text("nextval('notification_batch_seq')"))
    state: Mapped[str] = mapped_column(String(8), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: The delivery pass that is sending the row (a random id of that pass), and until when no
    #: other pass may take it (a pass killed meanwhile leaves it to be sent again after that);
    #: both None when no pass holds it (:func:`geosignal.services.notifications.claim`).
    leased_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The last delivery error (SMTP reply or network error), for the operator.
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
