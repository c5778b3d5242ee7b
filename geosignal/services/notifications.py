"""Notifications by e-mail, through an outbox written with the change they tell (Flask-free).

Who is told what:

- every active **referent** on a **submission** (a report filed as ``submitted``, or moved to
  ``submitted`` from a draft or after answering a question);
- every active **representative of the report's commune** on every **transition** of it, with
  the reason, question, answer or note given; never the one who made it.

Each recipient chooses how (``users.notification_mail``,
:data:`~geosignal.models.notification.NOTIFICATION_MAIL_CHOICES`): one message per event, a
daily digest, or none (no outbox row is written for them). Every message links to the
recipient's e-mail settings (``/compte/notifications``) and carries a one-click unsubscribe
(RFC 2369 ``List-Unsubscribe`` and RFC 8058 ``List-Unsubscribe-Post``): an HTTPS link whose
token (:func:`unsubscribe_token`, an HMAC of the account under the application's secret key,
good for unsubscribing only) sets the choice to ``none`` on a POST, without signing in; a GET
only asks to confirm (mail scanners fetch links).

Messages name roles, never another user's name or address, and carry the report's reference,
its commune and a link to its page (``GEOSIGNAL_PUBLIC_BASE_URL`` + ``/signalements/<id>``).
They are in the recipient's language, with a plain-text and an HTML
part, rendered from ``templates/mail/`` with the application's translation catalogues.

How nothing is lost or sent twice: :func:`notify_created` and :func:`notify_transition` write
the outbox rows in the caller's transaction, one ``INSERT … SELECT`` per call whatever the
number of reports, and queue a job (procrastinate, same database) in that transaction: the
rows exist exactly when the change is committed. A job worker, ``geosignal send-mail`` or the
periodic retry (:func:`deliver_pending`) leases due rows to itself in a short transaction
(``SKIP LOCKED`` while it marks them: workers share the work; :data:`LEASE`: no other pass
takes them before, a pass killed meanwhile leaves them to the next after it), then sends one
message per recipient and event holding no lock nor transaction — a recipient may change her
choice or unsubscribe meanwhile: what she chose is looked at again before each message —
and marks each message's rows ``sent`` in another short transaction; a refused or failed
delivery is retried with a growing delay (1 min × 2ⁿ, at most 6 h),
:data:`~geosignal.models.notification.MAX_ATTEMPTS` times, and a mail server that cannot be
reached ends the pass (the rest waits for its retry). The delivery is at least once: a crash
between the SMTP server's acceptance and the commit sends that message again once its lease
has run out, with the same ``Message-ID`` so that mail systems can drop the copy. Without an
SMTP host nothing is sent and due rows are marked ``skipped``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import smtplib
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import policy, vocab
from geosignal.config import ROOT
from geosignal.models.notification import MAX_ATTEMPTS, NOTIFICATION_MAIL_CHOICES
from geosignal.params import MAX_INT
from geosignal.services.mail import MailSettings, link_base, sender_domain

log = logging.getLogger(__name__)

#: The job queue of e-mail deliveries, and its tasks (registered by :mod:`geosignal.jobs`).
MAIL_QUEUE = "mail"
MAIL_TASK = "geosignal.send_mail"
DIGEST_TASK = "geosignal.send_digest"
#: When the digest goes out (cron, UTC: 06:00 UTC is 07:00 or 08:00 in Brussels).
DIGEST_CRON = "0 6 * * *"
#: How often due retries are looked for (cron).
RETRY_CRON = "*/5 * * * *"
#: Most reports listed in one message (the rest are counted, with a link to the list).
MAX_LISTED = 50
#: Messages (recipient × event) claimed by one delivery pass.
MAX_MESSAGES_PER_PASS = 200
#: Languages a message can be written in; French is the source.
MAIL_LANGUAGES = vocab.LANGUAGES

#: One statement per event: the representatives of each report's commune (a transition, not
#: its actor) and/or the referents (a report now ``submitted``; a report ``withdrawn`` that was
#: ``validated``, that an export run carried or that was in a confirmed zone) who chose to get
#: e-mails (``notification_mail``: ``each`` or ``digest``, not ``none``) get one outbox row per
#: report, all rows of the event share one batch number, and one delivery job is queued when
#: some row is to be sent at once. ``{reports}`` is where the event's reports (``id``,
#: ``from_status``, ``zone_id``: the confirmed zone a report was in before the event) come
#: from: arrays sent with the statement (:data:`_QUEUE`), or an import's staging table
#: (:func:`notify_created_in`). A withdrawal's facts (``details``) are read in the same
#: statement, after the move's own statement regrouped the zones: the export runs that
#: carried the report (found as :data:`geosignal.services.export.constants.SENT_CHANGE_SEQ_SQL`
#: finds them: by ``seq`` range, then its 16 bytes at a 16-byte boundary), whether its zone is
#: gone, and how many reports the zone has left.
_QUEUE_SQL = """
    WITH t AS (
      {reports}
    ), b AS (
      SELECT nextval('notification_batch_seq') AS batch
    ), reps AS (
      INSERT INTO notification_outbox (recipient_id, kind, report_id, from_status, to_status, reason,
                                       actor_role, delivery, batch)
      SELECT u.id, 'transition', t.id, t.from_status, CAST(:to_status AS varchar), CAST(:reason AS text),
             CAST(:actor_role AS varchar), u.notification_mail, b.batch
      FROM t JOIN reports r ON r.id = t.id
      JOIN users u ON u.role = 'representative' AND u.active AND u.commune_nis = r.commune_nis
                  AND u.notification_mail <> 'none' AND u.id IS DISTINCT FROM CAST(:actor_id AS integer)
      CROSS JOIN b
      WHERE CAST(:to_representatives AS boolean)
      RETURNING delivery
    ), refs AS (
      INSERT INTO notification_outbox (recipient_id, kind, report_id, from_status, to_status, reason,
                                       actor_role, delivery, batch)
      SELECT u.id, 'submission', t.id, t.from_status, r.status, CAST(:reason AS text),
             CAST(:actor_role AS varchar), u.notification_mail, b.batch
      FROM t JOIN reports r ON r.id = t.id AND r.status = 'submitted'
      JOIN users u ON u.role = 'referent' AND u.active AND u.notification_mail <> 'none'
                  AND u.id IS DISTINCT FROM CAST(:actor_id AS integer)
      CROSS JOIN b
      WHERE CAST(:to_referents AS boolean)
      RETURNING delivery
    ), withdrawn AS (
      SELECT t.id, t.from_status, jsonb_strip_nulls(jsonb_build_object(
               'exports', (SELECT jsonb_agg(jsonb_build_object('at', e.created_at, 'transmitted_at', e.transmitted_at)
                                            ORDER BY e.created_at)
                           FROM export_runs e
                           WHERE EXISTS (SELECT FROM export_run_batches eb
                                         WHERE eb.run_id = e.id AND eb.first_seq <= r.seq AND eb.last_seq >= r.seq
                                           AND position(uuid_send(r.id) IN eb.report_ids) % 16 = 1)),
               'zone', t.zone_id,
               'zone_removed', CASE WHEN t.zone_id IS NOT NULL THEN NOT EXISTS (
                                 SELECT FROM zones z WHERE z.id = t.zone_id AND z.state = 'confirmed') END,
               'zone_reports', (SELECT z.report_count FROM zones z WHERE z.id = t.zone_id AND z.state = 'confirmed')
             )) AS details
      FROM t JOIN reports r ON r.id = t.id AND r.status = 'withdrawn'
      WHERE CAST(:to_status AS varchar) = 'withdrawn'
    ), wdr AS (
      INSERT INTO notification_outbox (recipient_id, kind, report_id, from_status, to_status, reason,
                                       actor_role, delivery, batch, details)
      SELECT u.id, 'withdrawal', w.id, w.from_status, 'withdrawn', CAST(:reason AS text),
             CAST(:actor_role AS varchar), u.notification_mail, b.batch, w.details
      FROM withdrawn w
      JOIN users u ON u.role = 'referent' AND u.active AND u.notification_mail <> 'none'
                  AND u.id IS DISTINCT FROM CAST(:actor_id AS integer)
      CROSS JOIN b
      WHERE w.from_status = 'validated' OR w.details ? 'exports' OR w.details ? 'zone'
      RETURNING delivery
    ), job AS (
      SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, CAST('{}' AS jsonb),
                                                   NULL)::procrastinate_job_to_defer_v1]) AS ids
      WHERE EXISTS (SELECT FROM reps WHERE delivery = 'each') OR EXISTS (SELECT FROM refs WHERE delivery = 'each')
         OR EXISTS (SELECT FROM wdr WHERE delivery = 'each')
    )
    SELECT (SELECT count(*) FROM reps) + (SELECT count(*) FROM refs) + (SELECT count(*) FROM wdr),
           (SELECT count(*) FROM job)
"""
_QUEUE = text(_QUEUE_SQL.replace(
    "{reports}", "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:froms AS varchar[]), CAST(:zones AS bigint[])) "
                 "AS t(id, from_status, zone_id)"))

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, CAST('{}' AS jsonb), "
    "NULL)::procrastinate_job_to_defer_v1]))")


def _ids(report_ids: Iterable[uuid.UUID | str]) -> list[uuid.UUID]:
    return [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in report_ids]


def _froms(ids: list[uuid.UUID], from_statuses: str | Sequence[str | None] | None) -> list[str | None]:
    if from_statuses is None or isinstance(from_statuses, str):
        return [from_statuses] * len(ids)
    froms = list(from_statuses)
    if len(froms) != len(ids):
        raise ValueError("from_statuses must give one status per report id")
    return froms


def _queue(session: Session, ids: list[uuid.UUID], froms: list[str | None], to_status: str | None,
           actor: Any, reason: str | None, *, to_representatives: bool, to_referents: bool,
           statement: Any = _QUEUE, zones: list[int | None] | None = None) -> int:
    written, _jobs = session.execute(statement, {
        "ids": ids, "froms": froms, "zones": zones if zones is not None else [None] * len(ids),
        "to_status": to_status, "reason": reason,
        "actor_role": getattr(actor, "role", None), "actor_id": getattr(actor, "id", None),
        "to_representatives": to_representatives, "to_referents": to_referents,
        "queue": MAIL_QUEUE, "task": MAIL_TASK}).one()
    return int(written)


def enqueue_delivery(session: Session) -> None:
    """Queue one delivery job (:data:`MAIL_TASK`) in the caller's transaction: a job worker
    sends the pending messages once the caller commits."""
    session.execute(_DEFER, {"queue": MAIL_QUEUE, "task": MAIL_TASK})


def notify_created(session: Session, report_ids: Iterable[uuid.UUID | str], actor: Any = None) -> int:
    """Tell the referents of newly created reports that are ``submitted`` (drafts tell nobody).

    ``report_ids``: the reports just created, in the caller's transaction; ``actor``: who
    created them (a user with ``id`` and ``role``, or None from the command line). One
    statement (``INSERT … SELECT``, with the delivery job) whatever their number; returns the
    outbox rows written.
    """
    ids = _ids(report_ids)
    if not ids:
        return 0
    return _queue(session, ids, [None] * len(ids), None, actor, None, to_representatives=False, to_referents=True)


def notify_created_in(session: Session, table: str, actor: Any = None) -> int:
    """:func:`notify_created` for the reports whose ids are in column ``id`` of ``table`` (an
    import's staging table, in the caller's transaction): the same one statement, without
    sending the ids from Python (200,000 of them made 45 MB). ``table`` must be a plain SQL
    name (``ValueError`` otherwise)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", table):
        raise ValueError(f"not a plain table name: {table!r}")
    statement = text(_QUEUE_SQL.replace(
        "{reports}", f"SELECT id, CAST(NULL AS varchar) AS from_status, CAST(NULL AS bigint) AS zone_id FROM {table}"))
    return _queue(session, [], [], None, actor, None, to_representatives=False, to_referents=True,
                  statement=statement)


def notify_transition(session: Session, report_ids: Iterable[uuid.UUID | str], to_status: str,
                      actor: Any = None, reason: str | None = None,
                      from_statuses: str | Sequence[str | None] | None = None,
                      confirmed_zones: Sequence[int | None] | None = None) -> int:
    """Tell of a transition of reports to ``to_status``, with ``reason`` (the reason, question,
    answer or note given, or None).

    The representatives of each report's commune are told (not ``actor``, who made it); when
    ``to_status`` is ``submitted`` the referents are told too (a draft submitted, a question
    answered); when it is ``withdrawn`` the referents are told of each report that was
    ``validated``, that an export run carried, or that was in a confirmed zone
    (``confirmed_zones``: the confirmed zone id each report was in before the move, in order,
    None for none), with those facts. ``from_statuses``: the status each report had (one for
    all, or one per id, in order). Call it in the transaction that records the transition,
    after the move; one statement whatever the number of reports. Returns the outbox rows
    written. ``ValueError`` when a list does not give one value per report.
    """
    ids = _ids(report_ids)
    if not ids:
        return 0
    zones = list(confirmed_zones) if confirmed_zones is not None else [None] * len(ids)
    if len(zones) != len(ids):
        raise ValueError("confirmed_zones must give one zone (or None) per report id")
    return _queue(session, ids, _froms(ids, from_statuses), to_status, actor, reason,
                  to_representatives=True, to_referents=to_status == "submitted", zones=zones)


def set_notification_mail(session: Session, user: Any, choice: str) -> None:
    """Set how ``user`` gets the e-mails they are sent: ``each``, ``digest`` or ``none``
    (:data:`~geosignal.models.notification.NOTIFICATION_MAIL_CHOICES`). Their pending messages
    follow the new choice in the same transaction (one statement): moved to the digest or back,
    or dropped (``skipped``, no longer leased) for ``none``; it waits for no delivery pass (a
    pass sending them holds no lock, and looks at them again before each message:
    :func:`deliver_pending`). Raises 422 ``invalid_attribute`` for another value; the caller
    commits."""
    from geosignal.errors import GeosignalError

    if choice not in NOTIFICATION_MAIL_CHOICES:
        raise GeosignalError("invalid_attribute",
                             f"notification_mail must be one of {', '.join(NOTIFICATION_MAIL_CHOICES)}",
                             where="notification_mail", allowed=list(NOTIFICATION_MAIL_CHOICES))
    user.notification_mail = choice
    session.execute(text(
        "UPDATE notification_outbox SET delivery = CASE WHEN :choice = 'none' THEN delivery ELSE :choice END, "
        "state = CASE WHEN :choice = 'none' THEN 'skipped' ELSE state END, "
        "leased_by = CASE WHEN :choice = 'none' THEN NULL ELSE leased_by END, "
        "leased_until = CASE WHEN :choice = 'none' THEN NULL ELSE leased_until END "
        "WHERE recipient_id = :uid AND state = 'pending'"), {"choice": choice, "uid": user.id})


# ---- unsubscribing ------------------------------------------------------------------------

#: What an unsubscribe token's HMAC covers besides the account: a token made for this purpose
#: proves nothing else (no other geosignal secret is an HMAC of this message).
_UNSUBSCRIBE_PURPOSE = b"geosignal/unsubscribe/v1"
#: The path of the unsubscribe page (``?jeton=<token>``), as :mod:`geosignal.views.notifications` serves it.
UNSUBSCRIBE_PATH = "/compte/notifications/desabonnement"


def _unsubscribe_mac(secret_key: str, user_id: int, email: str) -> str:
    digest = hmac.new(secret_key.encode("utf-8"), b"\0".join(
        [_UNSUBSCRIBE_PURPOSE, str(int(user_id)).encode("ascii"), email.encode("utf-8")]), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def unsubscribe_token(secret_key: str, user_id: int, email: str) -> str:
    """Return the unsubscribe token of the account ``user_id`` with address ``email``:
    ``"<id>.<HMAC-SHA256 of purpose, id and address under secret_key, base64url>"`` (43
    characters after the dot). Nothing is stored; it stops working when the address or the
    application's ``SECRET_KEY`` changes. Good for unsubscribing only (:func:`unsubscribe`).
    ``ValueError`` for an empty ``secret_key`` (a token anybody could compute)."""
    if not secret_key:
        raise ValueError("an unsubscribe token needs the application's secret key")
    return f"{int(user_id)}.{_unsubscribe_mac(secret_key, user_id, email)}"


def unsubscribe_url(base_url: str, secret_key: str, user_id: int, email: str) -> str:
    """Return the absolute one-click unsubscribe address of an account (:func:`unsubscribe_token`)."""
    return f"{base_url.rstrip('/')}{UNSUBSCRIBE_PATH}?jeton={unsubscribe_token(secret_key, user_id, email)}"


def user_of_unsubscribe_token(session: Session, secret_key: str, token: str) -> Any:
    """Return the active user (:class:`~geosignal.models.User`) that ``token`` was made for
    (:func:`unsubscribe_token`, compared in constant time). Raises 404
    ``invalid_unsubscribe_link`` for anything else: malformed, another account's, made for
    an address the account no longer has, a deactivated account, no secret key."""
    from geosignal.errors import GeosignalError
    from geosignal.models import User

    refused = GeosignalError("invalid_unsubscribe_link", "this unsubscribe link is not valid", where="jeton")
    head, dot, mac = (token or "").partition(".")
    if not (secret_key and dot and head.isascii() and head.isdigit() and len(head) <= 10 and len(mac) == 43
            and int(head) <= MAX_INT):  # (an id beyond the column's range is no account either)
        raise refused
    user = session.get(User, int(head))
    if user is None or not user.in_force or not hmac.compare_digest(
            mac.encode("ascii", "replace"), _unsubscribe_mac(secret_key, user.id, user.email).encode("ascii")):
        raise refused
    return user


def unsubscribe(session: Session, secret_key: str, token: str) -> Any:
    """Stop every e-mail to the account ``token`` names (:func:`user_of_unsubscribe_token`;
    its errors): ``notification_mail`` becomes ``none`` and its pending messages are dropped
    (:func:`set_notification_mail`). Returns the user; the caller commits. Doing it twice
    changes nothing more."""
    user = user_of_unsubscribe_token(session, secret_key, token)
    set_notification_mail(session, user, "none")
    return user


# ---- delivery -----------------------------------------------------------------------------

@dataclass
class Message:
    """One message to send: its recipient, what it tells and the outbox rows it covers."""

    recipient_id: int
    email: str
    locale: str
    kind: str
    digest: bool
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [r["id"] for r in self.rows]


#: How long a delivery pass holds the rows it claims (:func:`claim`): no other pass takes them
#: before, and a pass killed meanwhile (its rows still ``pending``) leaves them to the next
#: pass after that.
LEASE = timedelta(minutes=10)
#: A pass begins no message later than this after its claim, and leaves the rest to the next
#: pass: the message it began (connection, greeting, login and the message's commands, at
#: most :data:`SMTP_TIMEOUT_S` each) is recorded before its lease runs out, so that no other
#: pass sends it too.
LAST_START = timedelta(minutes=8)
#: Seconds an SMTP connection waits for each answer of the server.
SMTP_TIMEOUT_S = 10

#: (a row's ``delivery`` is its recipient's choice when it was written; one written as another
#: choice committed alongside it is due as the recipient chooses now: :data:`_RECHECK` moves it)
_DUE = """o.state = 'pending' AND o.next_attempt_at <= :now
        AND (o.delivery = :delivery OR EXISTS (SELECT 1 FROM users u WHERE u.id = o.recipient_id
                                                AND u.notification_mail = :delivery))
        AND (o.leased_until IS NULL OR o.leased_until < now())
        AND (o.attempts > 0 OR NOT :retried_only) AND NOT o.id = ANY(:tried)"""

_CLAIM = f"""
    WITH due AS (  -- one group per message: a digest is the recipient's, whatever the kinds
      SELECT DISTINCT recipient_id, CASE WHEN :digest THEN '' ELSE kind END AS kind,
             CASE WHEN :digest THEN 0 ELSE batch END AS grp
      FROM notification_outbox o
      WHERE {_DUE}
      ORDER BY 1, 2, 3 LIMIT :groups
    ), picked AS (  -- locked for this statement only; a row another pass leased meanwhile is left
      SELECT o.id FROM notification_outbox o
      JOIN due ON due.recipient_id = o.recipient_id AND due.kind = CASE WHEN :digest THEN '' ELSE o.kind END
              AND due.grp = CASE WHEN :digest THEN 0 ELSE o.batch END
      WHERE {_DUE}
      FOR UPDATE OF o SKIP LOCKED
    ), leased AS (
      UPDATE notification_outbox o SET leased_by = :by, leased_until = now() + CAST(:lease AS interval)
      FROM picked WHERE o.id = picked.id
      RETURNING o.*
    )
    SELECT o.id, o.recipient_id, o.kind, o.batch, o.report_id, o.from_status, o.to_status, o.reason,
           o.actor_role, o.details, o.created_at, u.email, u.active,
           coalesce(to_jsonb(u) ->> 'locale', to_jsonb(u) ->> 'page_locale') AS locale,
           u.role AS recipient_role, u.commune_nis AS recipient_commune,
           r.reference, r.commune_nis, c.name_fr AS commune, r.network, r.issue
    FROM leased o
    JOIN users u ON u.id = o.recipient_id
    JOIN reports r ON r.id = o.report_id
    JOIN communes c ON c.nis_code = r.commune_nis
    ORDER BY o.recipient_id, o.kind, o.batch, o.id
"""

#: Just before a message leaves: which of its rows (``:ids``, leased ``:by`` this pass) it still
#: tells. A row its recipient dropped meanwhile (the choice ``none``: ``skipped`` already, or an
#: account deactivated) is marked ``skipped``; one whose recipient now chooses the other
#: delivery (``each`` ↔ ``digest``) is moved to it and released. The recipient's choice of now
#: decides, not the row's ``delivery``: a row written by a transition that read the choice
#: before a change committed alongside it (which moved the rows it could see, not this one) is
#: sent as chosen (claimed by that choice's pass, :data:`_DUE`, and its ``delivery`` set to
#: it). One statement.
_RECHECK = text("""
    WITH m AS (
      SELECT o.id, o.state = 'pending' AND u.active AND u.notification_mail = :delivery AS keep,
             o.state = 'pending' AND (NOT u.active OR u.notification_mail = 'none') AS dropped,
             u.notification_mail AS chosen
      FROM notification_outbox o JOIN users u ON u.id = o.recipient_id
      WHERE o.id = ANY(:ids) AND o.leased_by = :by
    ), gone AS (
      UPDATE notification_outbox o
      SET state = CASE WHEN m.dropped THEN 'skipped' ELSE o.state END,
          delivery = CASE WHEN o.state = 'pending' AND m.chosen IN ('each', 'digest') THEN m.chosen
                          ELSE o.delivery END,
          leased_by = NULL, leased_until = NULL
      FROM m WHERE o.id = m.id AND NOT m.keep
    ), sent_as_chosen AS (
      UPDATE notification_outbox o SET delivery = :delivery
      FROM m WHERE o.id = m.id AND m.keep AND o.delivery <> :delivery
    )
    SELECT id, keep, dropped FROM m""")


def still_told(row: dict[str, Any]) -> bool:
    """Whether the recipient of an outbox ``row`` (as :func:`claim` reads it) is told of its
    report now: the account is active and still reads the report
    (:func:`geosignal.policy.may_read_report` with its role and commune of now): a
    representative moved to another commune, or a referent made a representative, since the
    row was queued is not told of the first commune's reports."""
    from types import SimpleNamespace

    recipient = SimpleNamespace(role=row["recipient_role"], commune_nis=row["recipient_commune"])
    return bool(row["active"]) and policy.may_read_report(recipient, row["commune_nis"])


def claim(session: Session, by: uuid.UUID, *, digest: bool = False, now: datetime | None = None,
          limit: int = MAX_MESSAGES_PER_PASS, retried_only: bool = False,
          tried: Iterable[int] = ()) -> list[Message]:
    """Lease the due outbox rows of at most ``limit`` messages to the delivery pass ``by`` and
    return those messages.

    Without ``digest``: rows delivered ``each``, one message per recipient, kind and batch
    (one event: a submission, an import, a bulk transition). With ``digest``: the pending
    ``digest`` rows, one message per recipient, whatever their kinds (:func:`render` gives
    each kind its section). ``retried_only``: only the rows tried before (a digest that
    failed, retried before the next day's); ``tried``: row ids left out (tried already in
    this run). Rows leased to another pass whose :data:`LEASE` has not run out, or locked by
    another claim, are left. One statement; the caller commits at once (the rows are locked
    until then) and sends outside that transaction.
    """
    rows = session.execute(text(_CLAIM), {
        "digest": digest, "delivery": "digest" if digest else "each", "now": now or datetime.now(UTC),
        "groups": limit, "retried_only": retried_only, "tried": list(tried), "by": by,
        "lease": LEASE}).mappings().all()
    messages: dict[tuple, Message] = {}
    for row in rows:
        key = (row["recipient_id"], "", 0) if digest else (row["recipient_id"], row["kind"], row["batch"])
        message = messages.get(key)
        if message is None:
            message = messages[key] = Message(row["recipient_id"], row["email"],
                                              row["locale"] if row["locale"] in MAIL_LANGUAGES else "fr",
                                              row["kind"], digest)
        message.rows.append(dict(row))
    return list(messages.values())


@dataclass
class _Outcome:
    """What one delivery pass did: the counts :func:`deliver_pending` returns, the ids of the
    rows that failed, and whether it stopped because the mail server could not be reached."""

    messages: int = 0
    rows: int = 0
    failed: int = 0
    skipped: int = 0
    failed_ids: list[int] = field(default_factory=list)
    unreachable: bool = False

    def counts(self) -> dict[str, int]:
        return {"messages": self.messages, "rows": self.rows, "failed": self.failed, "skipped": self.skipped}


def deliver_pending(session: Session, settings: MailSettings, base_url: str, *, digest: bool = False,
                    now: datetime | None = None, limit: int = MAX_MESSAGES_PER_PASS, retried_only: bool = False,
                    tried: set[int] | None = None) -> dict[str, int]:
    """Send the due messages (:func:`claim`) over one SMTP connection and record each outcome,
    holding no lock nor transaction while the SMTP server is talked to.

    Three kinds of short transaction, each committed on ``session``: the claim (the rows
    leased to this pass, and those nobody is to be told of marked ``skipped``); before each
    message, a look at its rows (:data:`_RECHECK`: a recipient who unsubscribed, chose the
    other delivery or was deactivated since the claim is not sent them); after it, its rows
    marked ``sent``, or its failure (retried later, ``failed`` after
    :data:`~geosignal.models.notification.MAX_ATTEMPTS`). Only rows still leased to this
    pass and still ``pending`` are marked: a choice made meanwhile stands. A failure to reach
    the server (connection, greeting, STARTTLS, login) ends the pass: the messages left are
    recorded as failed with the same error, without waiting for the server once more each; a
    pass past :data:`LAST_START` leaves the rest to the next pass.

    ``base_url``: the public address links start with (``GEOSIGNAL_PUBLIC_BASE_URL``). With no
    SMTP host configured nothing is sent and the due rows are marked ``skipped``; so are the
    rows of a recipient who may not read their report any more, as the account is when the
    message leaves (:func:`still_told`: deactivated, or moved to another commune or role since
    the row was queued). Returns counts: ``messages`` sent, ``rows`` sent, ``failed``
    messages (to retry or given up), ``skipped`` rows. ``retried_only`` and ``tried`` as for
    :func:`claim`; the ids of the rows that failed are added to ``tried``.
    """
    outcome = _deliver_pass(session, settings, base_url, digest=digest, now=now, limit=limit,
                            retried_only=retried_only, tried=tried)
    return outcome.counts()


def _deliver_pass(session: Session, settings: MailSettings, base_url: str, *, digest: bool,
                  now: datetime | None, limit: int, retried_only: bool, tried: set[int] | None) -> _Outcome:
    """:func:`deliver_pending`, saying whether the server could not be reached."""
    by = uuid.uuid4()
    last_start = time.monotonic() + LAST_START.total_seconds()  # (before the claim: within the lease)
    messages = claim(session, by, digest=digest, now=now, limit=limit, retried_only=retried_only,
                     tried=tried or ())
    outcome = _Outcome()
    skipped: list[int] = []
    for message in messages:
        told = [bool(settings.host) and still_told(row) for row in message.rows]
        skipped += [row["id"] for row, yes in zip(message.rows, told, strict=True) if not yes]
        message.rows = [row for row, yes in zip(message.rows, told, strict=True) if yes]
    _record(session, by, skipped=skipped)
    outcome.skipped += len(skipped)
    session.commit()
    outgoing = [m for m in messages if m.rows]
    delivery = "digest" if digest else "each"
    sender = _Sender(settings)
    try:
        for index, message in enumerate(outgoing):
            if time.monotonic() > last_start:  # the rest to the next pass, before this one's lease runs out
                _record(session, by, released=[i for m in outgoing[index:] for i in m.ids])
                session.commit()
                break
            message.rows = _still_to_send(session, by, message, delivery, outcome)
            session.commit()
            if not message.rows:
                continue
            try:
                sender.send(build_email(settings, message, base_url))
            except _Unreachable as exc:  # the server is away: no use waiting for it once more per message
                left = outgoing[index:]
                error = _error_text(exc.__cause__ or exc)
                _record(session, by, failures=[(m, error) for m in left])
                session.commit()
                outcome.failed += len(left)
                outcome.failed_ids += [i for m in left for i in m.ids]
                outcome.unreachable = True
                log.warning("mail server not reached (%s): %d notification messages left for a later try",
                            error, len(left))
                break
            except (smtplib.SMTPException, OSError) as exc:
                error = _error_text(exc)
                _record(session, by, failures=[(message, error)])
                session.commit()
                outcome.failed += 1
                outcome.failed_ids += message.ids
                sender.reset()
                log.warning("notification to …@%s not delivered: %s", message.email.rpartition("@")[2], error)
                continue
            _record(session, by, sent=message.ids)
            session.commit()
            outcome.messages += 1
            outcome.rows += len(message.rows)
    finally:
        sender.close()
    if tried is not None:
        tried.update(outcome.failed_ids)
    if not settings.host and skipped:
        log.info("mail not configured: %d notifications not sent", len(skipped))
    return outcome


def _still_to_send(session: Session, by: uuid.UUID, message: Message, delivery: str,
                   outcome: _Outcome) -> list[dict[str, Any]]:
    """The rows of ``message`` it still tells, now (:data:`_RECHECK`); the others are dropped
    (counted as skipped) or released."""
    looked = session.execute(_RECHECK, {"ids": message.ids, "by": by, "delivery": delivery}).all()
    keep = {i for i, kept, _dropped in looked if kept}
    outcome.skipped += sum(1 for _i, _kept, dropped in looked if dropped)
    return [row for row in message.rows if row["id"] in keep]


def base_url_from_config(config: Any) -> str:
    """Return the address links in messages start with (:func:`geosignal.services.mail.link_base`)."""
    return link_base(config)


#: A ``now`` for :func:`deliver_from_config` past every retry time: everything pending is
#: attempted (``geosignal send-mail``, once the mail server is mended).
EVERY_PENDING = datetime(9999, 1, 1, tzinfo=UTC)


def deliver_from_config(database: Any, config: Any, *, digest: bool = False,
                        now: datetime | None = None, retried_only: bool = False) -> dict[str, int]:
    """Deliver every due message (:func:`deliver_pending`) with the SMTP settings and public
    address of an application's ``config``, on sessions of ``database``
    (:class:`geosignal.db.Database`), in passes of :data:`MAX_MESSAGES_PER_PASS` messages. A
    message that fails is tried once per call (its retry waits for its time, even with
    ``now`` = :data:`EVERY_PENDING`); a pass that could not reach the mail server ends the
    call (what is left waits for its retry). ``retried_only``: as for :func:`claim`. Returns
    the summed counts."""
    settings = MailSettings.from_config(config)
    base_url = base_url_from_config(config)
    total = {"messages": 0, "rows": 0, "failed": 0, "skipped": 0}
    tried: set[int] = set()
    while True:
        with database.session() as session:
            done = _deliver_pass(session, settings, base_url, digest=digest, now=now, limit=MAX_MESSAGES_PER_PASS,
                                 retried_only=retried_only, tried=tried)
            session.commit()
        for key, value in done.counts().items():
            total[key] += value
        if done.unreachable or not (done.messages or done.skipped):  # nothing left, or only failures
            return total


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {message}"[:300]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {msg.decode(errors='replace')}" for code, msg in exc.recipients.values())[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _record(session: Session, by: uuid.UUID, *, sent: Sequence[int] = (),
            failures: Sequence[tuple[Message, str]] = (), skipped: Sequence[int] = (),
            released: Sequence[int] = ()) -> None:
    """Record outcomes of the delivery pass ``by``, one statement per outcome, on the rows
    still leased to it and still ``pending`` (a choice made since the claim stands), releasing
    their lease: ``sent`` rows, ``failures`` (a message and its error: retried after 1 min ×
    2ⁿ, at most 6 h, ``failed`` after :data:`~geosignal.models.notification.MAX_ATTEMPTS`),
    ``skipped`` rows, ``released`` rows (not tried: due again for the next pass)."""
    mine = "o.leased_by = :by AND o.state = 'pending'"
    free = "leased_by = NULL, leased_until = NULL"
    if sent:
        session.execute(text(f"UPDATE notification_outbox o SET state = 'sent', sent_at = now(), "
                             f"attempts = attempts + 1, last_error = NULL, {free} WHERE o.id = ANY(:ids) AND {mine}"),
                        {"ids": list(sent), "by": by})
    if failures:
        ids = [i for m, _ in failures for i in m.ids]
        errors = [e for m, e in failures for _ in m.ids]
        session.execute(text(f"""
            UPDATE notification_outbox o SET attempts = o.attempts + 1, last_error = f.error, {free},
              state = CASE WHEN o.attempts + 1 >= :max THEN 'failed' ELSE 'pending' END,
              next_attempt_at = now() + least(interval '1 minute' * power(2, o.attempts), interval '6 hours')
            FROM unnest(CAST(:ids AS bigint[]), CAST(:errors AS varchar[])) AS f(id, error)
            WHERE o.id = f.id AND {mine}"""), {"ids": ids, "errors": errors, "max": MAX_ATTEMPTS, "by": by})
    if skipped:
        session.execute(text(f"UPDATE notification_outbox o SET state = 'skipped', {free} "
                             f"WHERE o.id = ANY(:ids) AND {mine}"), {"ids": list(skipped), "by": by})
    if released:
        session.execute(text(f"UPDATE notification_outbox o SET {free} WHERE o.id = ANY(:ids) AND o.leased_by = :by"),
                        {"ids": list(released), "by": by})


class _Unreachable(Exception):
    """The SMTP server could not be reached: connection, greeting, STARTTLS or login failed
    (the cause is the error)."""


class _Sender:
    """One SMTP connection for a delivery pass, opened on first use and again after a failure;
    a failure to open it raises :class:`_Unreachable`."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            try:
                smtp = smtplib.SMTP(self.settings.host, self.settings.port, timeout=SMTP_TIMEOUT_S)
            except (smtplib.SMTPException, OSError) as exc:
                raise _Unreachable(str(exc)) from exc
            try:
                if self.settings.starttls:
                    smtp.starttls()
                if self.settings.user:
                    smtp.login(self.settings.user, self.settings.password)
            except (smtplib.SMTPException, OSError) as exc:
                smtp.close()
                raise _Unreachable(str(exc)) from exc
            except BaseException:
                smtp.close()
                raise
            self.smtp = smtp
        self.smtp.send_message(message)

    def reset(self) -> None:
        self.close()

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


# ---- rendering ----------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _environment(locale: str) -> Any:
    """A Jinja environment on ``templates/mail`` with the catalogues of ``locale`` (French,
    the source language, needs none: its counts take CLDR's plural, 0 and 1 singular)."""
    from babel import Locale
    from babel.support import Translations
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    from geosignal.i18n import DEFAULT_LANGUAGE, source_plural
    from geosignal.ui_text import colon

    env = Environment(loader=FileSystemLoader(str(ROOT / "templates" / "mail")),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    translations = Translations.load(str(ROOT / "geosignal" / "translations"), [locale])
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    if Locale.parse(locale).language == DEFAULT_LANGUAGE:  # the source language: CLDR's plural (0 is one)
        env.install_gettext_callables(gettext=translations.ugettext, ngettext=source_plural,  # type: ignore[attr-defined]
                                      newstyle=True)

    def label(value: str | None) -> str:
        """The vocabulary label of ``value`` in the recipient's language."""
        french = vocab.LABELS_FR.get(value or "")
        return translations.gettext(french) if french else str(value)

    _figures_in(env, locale)
    env.globals["label"] = label
    env.globals["by_commune"] = by_commune
    env.globals["lang"] = locale
    env.globals["colon"] = colon(locale)  # « Motif : » in French, "Reason: " in Dutch and English
    return env


def _figures_in(env: Any, locale: str) -> None:
    """Make the gettext callables of ``env`` write counts (``num``) as the recipient's
    language writes them — ``1 299`` · ``1.299`` · ``1,299`` — as every page does: « 1299
    nouveaux signalements » was written in every language. Identifiers (a zone's number) stay
    as they are; the plural still chooses by the number itself."""
    from babel.numbers import format_decimal
    from jinja2 import pass_context

    from geosignal.i18n import BABEL_LOCALES

    written_in = BABEL_LOCALES.get(locale, locale)

    def written(variables: dict[str, Any]) -> dict[str, Any]:
        count = variables.get("num")
        if isinstance(count, int) and not isinstance(count, bool):
            return {**variables, "num": format_decimal(count, "#,##0", locale=written_in)}
        return variables

    plain, plural = env.globals["gettext"], env.globals["ngettext"]

    @pass_context
    def gettext(context: Any, message: str, **variables: Any) -> str:
        return plain(context, message, **written(variables))

    @pass_context
    def ngettext(context: Any, singular: str, plural_: str, number: int, **variables: Any) -> str:
        variables.setdefault("num", number)
        return plural(context, singular, plural_, number, **written(variables))

    env.globals.update(gettext=gettext, _=gettext, ngettext=ngettext)


def report_url(base_url: str, report_id: uuid.UUID | str) -> str:
    """Return the absolute address of a report's page."""
    return f"{base_url.rstrip('/')}/signalements/{report_id}"


def _brussels(value: str | None, language: str) -> str | None:
    """An ISO 8601 instant as the pages of ``language`` write it, Brussels time: ``26/10/2025 à
    02:30`` (fr), ``26/10/2025 om 02:30`` (nl), ``26 Oct 2025, 02:30`` (en) — the patterns of
    :data:`geosignal.i18n.DATETIME_PATTERNS` (every mail wrote ``26/10/2025 02:30``)."""
    if not value:
        return None
    from babel.dates import format_datetime as babel_format

    from geosignal.i18n import BABEL_LOCALES, BRUSSELS, DATETIME_PATTERNS

    language = language if language in DATETIME_PATTERNS else "fr"
    return babel_format(datetime.fromisoformat(value), DATETIME_PATTERNS[language], tzinfo=BRUSSELS,
                        locale=BABEL_LOCALES[language])


def _withdrawal_facts(details: dict[str, Any] | None, language: str) -> dict[str, Any]:
    """What a withdrawal affected (an outbox row's ``details``), for the templates of
    ``language``: ``exports`` (``at`` and ``transmitted_at`` in Brussels time, written as that
    language's pages write them, None when not marked as sent), ``zone``, ``zone_removed``,
    ``zone_reports``."""
    details = details or {}
    return {"exports": [{"at": _brussels(e.get("at"), language),
                         "transmitted_at": _brussels(e.get("transmitted_at"), language)}
                        for e in details.get("exports") or []],
            "zone": details.get("zone"), "zone_removed": bool(details.get("zone_removed")),
            "zone_reports": details.get("zone_reports")}


#: The template of each kind of message (``templates/mail/<name>.txt`` and ``.html``), in the
#: order a digest of several kinds tells them.
_TEMPLATES = {"submission": "submissions", "withdrawal": "withdrawals", "transition": "transitions"}
#: The kinds whose messages count and list reports, one entry per report with its events in
#: order (a report filed, asked a question and answered the same day is one report waiting for
#: the referent: « soumis, puis répondu : … »); a change of status is told one by one (its
#: messages count changes).
_ONE_ENTRY_PER_REPORT = frozenset({"submission", "withdrawal"})


def by_commune(event: dict[str, Any]) -> bool:
    """Whether an event of a message (its ``actor_role``) was a commune's own act: a
    representative's (a row without a role is one, as before roles were recorded), not an
    admin's or a referent's, which a message names by role alone, without the report's
    commune."""
    return event.get("actor_role") in (None, "representative")


def render(message: Message, base_url: str, unsubscribe_link: str | None = None) -> tuple[str, str, str]:
    """Return (subject, plain text, HTML) of ``message`` in its recipient's language.

    Templates: ``mail/submissions`` and ``mail/withdrawals`` (to referents) and
    ``mail/transitions`` (to representatives), each a ``.txt`` (blocks ``subject`` and ``body``,
    the body's ``section`` and ``footer``) and a ``.html`` (the same ``section`` and ``footer``),
    each with a daily digest form. A digest holding several kinds is one message
    (``mail/digest``): one section per kind, in :data:`_TEMPLATES`' order, and the first kind's
    footer. Items carry the report's reference, commune, network and issue, the statuses
    before and after, the reason and the role of who acted (with the commune when a commune's
    representative acted: :func:`by_commune`; ``by_communes`` when every event was one), and
    the link to the report's page;
    submissions and withdrawals are counted and listed by report (:data:`_ONE_ENTRY_PER_REPORT`:
    an item's ``events``, in order, are the report's events the message tells), and a digest's
    subject counts distinct reports, whatever their kinds and events; every message ends with
    the link to the recipient's e-mail settings and, when given, ``unsubscribe_link``
    (:func:`unsubscribe_url`).
    """
    from markupsafe import Markup

    env = _environment(message.locale)
    common = {"digest": message.digest, "list_url": f"{base_url.rstrip('/')}/signalements",
              "preferences_url": f"{base_url.rstrip('/')}/compte/notifications",
              "unsubscribe_url": unsubscribe_link}
    parts = []
    for kind, name in _TEMPLATES.items():
        entries: dict[Any, dict[str, Any]] = {}
        for n, r in enumerate(message.rows):
            if r.get("kind", message.kind) != kind:  # (a row without one is the message's)
                continue
            event = {"from_status": r["from_status"], "to_status": r["to_status"], "reason": r["reason"],
                     "actor_role": r["actor_role"]}
            key = r["report_id"] if kind in _ONE_ENTRY_PER_REPORT else n
            item = entries.get(key)
            if item is None:  # the report's first event of the message gives the entry's statuses
                item = entries[key] = {
                    "reference": r["reference"], "commune": r["commune"], "nis": r["commune_nis"],
                    "url": report_url(base_url, r["report_id"]), "network": r["network"], "issue": r["issue"],
                    **event, **_withdrawal_facts(r.get("details"), message.locale), "events": []}
            item["events"].append(event)
        items = list(entries.values())
        if items:
            parts.append((name, {**common, "items": items[:MAX_LISTED], "count": len(items),
                                 "more": max(0, len(items) - MAX_LISTED),
                                 "communes": sorted({i["commune"] for i in items}),
                                 # whether every event was a commune's own act (an admin's is said as
                                 # such: not « retiré par la commune », not « Administrateur·rice (Charleroi) »)
                                 "by_communes": all(by_commune(e) for i in items for e in i["events"])}))

    def block(template: Any, context: dict[str, Any], name: str) -> str:
        return "".join(template.blocks[name](template.new_context(context)))

    if len(parts) == 1:
        ((name, context),) = parts
        plain, html, page_context = env.get_template(f"{name}.txt"), env.get_template(f"{name}.html"), context
    else:  # a digest of several kinds: the sections (already escaped in HTML) in one message
        plains = [(env.get_template(f"{name}.txt"), c) for name, c in parts]
        pages = [(env.get_template(f"{name}.html"), c) for name, c in parts]
        context = {**common, "count": len({r["report_id"] for r in message.rows}),
                   "sections": "".join(block(t, c, "section") for t, c in plains),
                   "footer": block(*plains[0], "footer")}
        page_context = {**common, "sections": Markup("".join(block(t, c, "section") for t, c in pages)),
                        "footer": Markup(block(*pages[0], "footer"))}
        plain, html = env.get_template("digest.txt"), env.get_template("digest.html")
    # lines and runs of spaces made one (a header is one line); a no-break space in a figure stays
    subject = re.sub(r"[ \t\r\n\f\v\x85\u2028\u2029]+", " ", block(plain, context, "subject")).strip()
    body = block(plain, context, "body").strip() + "\n"
    return subject, body, html.render(page_context, subject=subject)


#: The e-mail policy of notifications: lines up to RFC 5322's 998 characters, so that the
#: ``List-Unsubscribe`` address (about 120 characters, no space to fold at) stays one plain
#: ``<https://…>``; at the default 78 the header was rewritten in RFC 2047 encoded words,
#: which mail programs do not read as an address.
_UNFOLDED_URLS = email_policy.default.clone(max_line_length=998)


def build_email(settings: MailSettings, message: Message, base_url: str) -> EmailMessage:
    """Return the e-mail of ``message``: plain text and HTML alternatives, ``Date`` (when it
    is sent) and a ``Message-ID`` derived from its first outbox row (a resend after a crash
    carries the same one).

    With a secret key (``settings.secret_key``) it carries the recipient's unsubscribe link
    (:func:`unsubscribe_url`) in both parts and as ``List-Unsubscribe`` (RFC 2369); when that
    link is HTTPS (``GEOSIGNAL_PUBLIC_BASE_URL`` https, as in production), also
    ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058, which allows HTTPS only):
    mail programs then offer to unsubscribe with one POST."""
    link = (unsubscribe_url(base_url, settings.secret_key, message.recipient_id, message.email)
            if settings.secret_key else None)
    subject, body, page = render(message, base_url, link)
    email = EmailMessage(policy=_UNFOLDED_URLS)
    email["From"], email["To"], email["Subject"] = settings.sender, message.email, subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = f"<outbox-{min(message.ids)}-{message.recipient_id}@{sender_domain(settings)}>"
    email["Auto-Submitted"] = "auto-generated"
    if link is not None:
        email["List-Unsubscribe"] = f"<{link}>"
        if link.startswith("https://"):
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(body)
    email.add_alternative(page, subtype="html")
    return email


def outbox_summary(session: Session) -> dict[str, int]:
    """Return the number of outbox rows per state (``pending``, ``sent``, ``failed``,
    ``skipped``), for the command line."""
    rows = session.execute(text("SELECT state, count(*) FROM notification_outbox GROUP BY state")).all()
    return {"pending": 0, "sent": 0, "failed": 0, "skipped": 0, **{s: int(n) for s, n in rows}}

