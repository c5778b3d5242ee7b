"""E-mail notifications received by a real local SMTP server (aiosmtpd): to the referents on
submissions (each, or a daily digest), to the commune's representatives on transitions with
the reason; plain and HTML parts, link to the report page, no other user's personal data;
nothing sent without an SMTP server; failed deliveries retried."""

from __future__ import annotations

import re
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from geosignal.models import Notification, Report, User
from geosignal.services import notifications
from geosignal.services.mail import MailSettings
from tests.conftest import CHARLEROI, Mailbox, configured, make_account, owner_only
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

CHATELET = "52012"
BASE = "https://geosignal.example.be"
#: Every address of the test's users: none may appear in a message to somebody else.
ADDRESSES = ("echevin@charleroi.be", "agent@charleroi.be", "echevin@chatelet.be", "referent@igretec.com",
             "referente2@igretec.com", "admin@igretec.com")


class RefusingMailbox(Mailbox):
    """A mailbox whose server answers ``451`` (try again later) to the next ``refuse_next``
    messages, then accepts."""

    refuse_next = 0

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[bytes] = []  # as received, before parsing

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.raw.append(envelope.content)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp_server(app):  # noqa: ANN001, ANN201
    """A real SMTP server (aiosmtpd) on a free loopback port that can refuse for a while, and
    the app pointed at it."""
    from aiosmtpd.controller import Controller

    mailbox = RefusingMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    with configured(app, SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port):
        yield mailbox
    controller.stop()


@pytest.fixture
def people(client, db):  # noqa: ANN001, ANN201
    """Two representatives of Charleroi, one of Châtelet, two referents (one on the daily
    digest) and an admin."""
    made = {
        "rep": make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI),
        "rep2": make_account(client, db, "agent@charleroi.be", "representative", CHARLEROI),
        "chatelet": make_account(client, db, "echevin@chatelet.be", "representative", CHATELET),
        "referent": make_account(client, db, "referent@igretec.com", "referent"),
        "referent2": make_account(client, db, "referente2@igretec.com", "referent"),
        "admin": make_account(client, db, "admin@igretec.com", "admin"),
    }
    db.execute(text("UPDATE users SET notification_mail = 'digest' WHERE email = 'referente2@igretec.com'"))
    db.commit()
    return made


def _report(account, dx: float = 0.0, **props) -> str:  # noqa: ANN001, ANN003
    x, y = CHARLEROI_LAMBERT72
    response = account.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x + dx, y, 200.0)),
                                                            **props))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _deliver(app, db, *, digest: bool = False, now: datetime | None = None) -> dict[str, int]:  # noqa: ANN001
    """One delivery pass in the test's transaction, with the app's SMTP settings."""
    settings = MailSettings.from_config(app.config)
    return notifications.deliver_pending(db, settings, BASE, digest=digest, now=now)


def _parts(message) -> tuple[str, str]:  # noqa: ANN001
    plain = message.get_body(("plain",)).get_content()
    page = message.get_body(("html",)).get_content()
    return plain, page


def _reference(db, report_id: str) -> str:  # noqa: ANN001
    return db.scalar(select(Report.reference).where(Report.id == uuid.UUID(report_id)))


def _no_personal_data(message, *, allowed: str) -> None:  # noqa: ANN001
    """The message names no user but its recipient (``allowed``), in headers or either part."""
    whole = message.as_string()
    plain, page = _parts(message)
    for address in ADDRESSES:
        if address != allowed:
            assert address not in whole and address not in plain and address not in page, address


def test_referent_is_told_of_each_submission(app, db, smtp_server, people) -> None:  # noqa: ANN001
    report_id = _report(people["rep"], description="Pas de 4G rue Haute")
    rows = db.execute(select(Notification.recipient_id, Notification.kind, Notification.delivery)
                      .where(Notification.report_id == uuid.UUID(report_id))).all()
    referent_ids = dict(db.execute(select(User.email, User.id).where(User.role == "referent")).all())
    assert sorted(rows) == sorted([(referent_ids["referent@igretec.com"], "submission", "each"),
                                   (referent_ids["referente2@igretec.com"], "submission", "digest")])
    done = _deliver(app, db)
    assert done == {"messages": 1, "rows": 1, "failed": 0, "skipped": 0}
    [message] = smtp_server.messages
    reference = _reference(db, report_id)
    assert message["To"] == "referent@igretec.com"
    assert message["Subject"] == f"geosignal : nouveau signalement {reference} (Charleroi)"
    plain, page = _parts(message)
    link = f"{BASE}/signalements/{report_id}"
    assert link in plain and f'href="{link}"' in page
    assert reference in plain and reference in page
    assert "Représentant·e communal·e (Charleroi)" in plain
    assert "Aucune couverture" in plain
    assert "Pas de 4G" not in plain  # the description is not sent by e-mail
    _no_personal_data(message, allowed="referent@igretec.com")
    assert message["Message-ID"].startswith("<outbox-")
    state = db.execute(select(Notification.state, Notification.sent_at).where(
        Notification.report_id == uuid.UUID(report_id), Notification.delivery == "each")).one()
    assert state.state == "sent" and state.sent_at is not None
    assert _deliver(app, db)["messages"] == 0  # never twice


def test_an_import_tells_the_referents_of_each_report_in_one_batch(app, db, smtp_server, people) -> None:  # noqa: ANN001
    """A saved file: one outbox row per referent and report, written by one statement (one
    batch) from the import's staging table."""
    import io
    import json

    x, y = CHARLEROI_LAMBERT72
    collection = {"type": "FeatureCollection", "features": [
        feature(to_geojson_4326(square_lambert(x + 400 * k, y, 150.0)), description=f"zone {k}") for k in range(3)]}
    response = people["rep"].post("/api/v1/imports", data={
        "file": (io.BytesIO(json.dumps(collection).encode()), "zones.geojson")}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    saved = {uuid.UUID(f["report_id"]) for f in response.get_json()["features"]}
    assert len(saved) == 3
    referent_ids = dict(db.execute(select(User.email, User.id).where(User.role == "referent")).all())
    rows = db.execute(select(Notification.recipient_id, Notification.kind, Notification.delivery,
                             Notification.report_id, Notification.batch)
                      .where(Notification.report_id.in_(saved))).all()
    assert sorted((r.recipient_id, r.kind, r.delivery, r.report_id) for r in rows) == sorted(
        [(referent_ids["referent@igretec.com"], "submission", "each", i) for i in saved]
        + [(referent_ids["referente2@igretec.com"], "submission", "digest", i) for i in saved])
    assert len({r.batch for r in rows}) == 1
    assert db.scalar(text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'import_staging_%'")) == 0


def test_transition_tells_the_communes_representatives_with_the_reason(app, db, smtp_server, people) -> None:  # noqa: ANN001
    report_id = _report(people["rep"])
    user = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    reason = "Zone déjà couverte <selon> l'opérateur & « Proximus »"
    written = notifications.notify_transition(db, [report_id], "rejected", user, reason, from_statuses="submitted")
    assert written == 2  # the two representatives of Charleroi, not Châtelet's
    _deliver(app, db)
    to_reps = [m for m in smtp_server.messages if m["To"] in ("echevin@charleroi.be", "agent@charleroi.be")]
    assert sorted(m["To"] for m in to_reps) == ["agent@charleroi.be", "echevin@charleroi.be"]
    assert smtp_server.to("echevin@chatelet.be") == []
    reference = _reference(db, report_id)
    for message in to_reps:
        assert message["Subject"] == f"geosignal : signalement {reference} — Rejeté"
        plain, page = _parts(message)
        assert f"Motif : {reason}" in plain
        assert "Zone déjà couverte &lt;selon&gt; l&#39;opérateur &amp; « Proximus »" in page  # escaped in HTML
        assert "« Soumis » → « Rejeté »" in plain
        assert "Par : Référent·e Smart Region" in plain
        assert f"{BASE}/signalements/{report_id}" in plain
        _no_personal_data(message, allowed=message["To"])


def test_the_actor_is_not_told_of_their_own_transition(app, db, smtp_server, people) -> None:  # noqa: ANN001
    report_id = _report(people["rep"])
    actor = db.scalar(select(User).where(User.email == "echevin@charleroi.be"))
    assert notifications.notify_transition(db, [report_id], "withdrawn", actor, None, "submitted") == 1
    _deliver(app, db)
    assert [m["To"] for m in smtp_server.messages if m["Subject"].startswith("geosignal : signalement")] == [
        "agent@charleroi.be"]


def test_a_bulk_transition_is_one_statement_and_one_message_per_recipient(app, db, smtp_server, people) -> None:  # noqa: ANN001
    ids = [_report(people["rep"], dx=300.0 * k) for k in range(3)]
    referent = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    db.execute(text("UPDATE notification_outbox SET state = 'sent'"))  # the submissions: not this test's
    assert notifications.notify_transition(db, ids, "validated", referent, None, ["submitted"] * 3) == 6
    assert db.scalar(text("SELECT count(DISTINCT batch) FROM notification_outbox WHERE kind = 'transition'")) == 1
    assert _deliver(app, db) == {"messages": 2, "rows": 6, "failed": 0, "skipped": 0}
    for message in smtp_server.messages:
        assert message["Subject"] == "geosignal : 3 signalements de votre commune mis à jour"
        plain, _page = _parts(message)
        for report_id in ids:
            assert _reference(db, report_id) in plain and f"{BASE}/signalements/{report_id}" in plain


def test_digest_groups_the_days_submissions(app, db, smtp_server, people) -> None:  # noqa: ANN001
    ids = [_report(people["rep"], dx=300.0 * k) for k in range(3)]
    # the referent on "each" got them as they came; the one on the digest nothing yet
    _deliver(app, db)
    assert smtp_server.to("referente2@igretec.com") == []
    assert len(smtp_server.to("referent@igretec.com")) == 3
    done = _deliver(app, db, digest=True)
    assert done == {"messages": 1, "rows": 3, "failed": 0, "skipped": 0}
    [digest] = smtp_server.to("referente2@igretec.com")
    assert digest["Subject"] == "geosignal : résumé du jour, 3 signalements soumis"
    plain, page = _parts(digest)
    for report_id in ids:
        assert _reference(db, report_id) in plain and f"{BASE}/signalements/{report_id}" in page
    _no_personal_data(digest, allowed="referente2@igretec.com")
    assert _deliver(app, db, digest=True)["messages"] == 0


def test_a_digest_of_submissions_and_withdrawals_is_one_message(app, db, smtp_server, people) -> None:  # noqa: ANN001
    """One digest a day: a referent on the digest with submissions and a withdrawal pending
    gets one message, a section per kind (submissions first), the footer once."""
    rep, referent = people["rep"], people["referent"]
    withdrawn = _report(rep)
    assert referent.post(f"/api/v1/reports/{withdrawn}/transitions", json={"to": "validated"}).status_code == 200
    assert rep.post(f"/api/v1/reports/{withdrawn}/transitions", json={"to": "withdrawn"}).status_code == 200
    filed = _report(rep, dx=-3000.0)
    assert _deliver(app, db, digest=True) == {"messages": 1, "rows": 3, "failed": 0, "skipped": 0}
    [digest] = smtp_server.to("referente2@igretec.com")
    # two reports (three events: the withdrawn one was submitted, then withdrawn): « 3 » before
    assert digest["Subject"] == "geosignal : résumé du jour, 2 signalements"
    plain, page = _parts(digest)
    submitted = plain.index("2 signalements ont été soumis depuis le dernier résumé :")
    removed = plain.index("Une commune a retiré un signalement que vous aviez validé, qu'un export a emporté "
                          "ou qui était dans une zone confirmée :")
    assert plain.replace("\r\n", "\n").startswith("Bonjour,\n\n") and submitted < removed
    assert plain[submitted:removed].count(_reference(db, filed)) == 1
    assert plain[removed:].count(_reference(db, withdrawn)) == 1
    for text_ in (plain, page):
        assert text_.count("Vous recevez ce message en tant que référent·e Smart Region.") == 1
        assert text_.count("geosignal, zones blanches de Charleroi Métropole") == 1
        assert text_.count("Bonjour,") == 1
    assert page.index("2 signalements ont été soumis") < page.index("Une commune a retiré un signalement")
    assert f'<a href="{BASE}/signalements/{filed}">' in page and "<title>geosignal : résumé du jour, 2 signalements" in page
    _no_personal_data(digest, allowed="referente2@igretec.com")
    assert _deliver(app, db, digest=True)["messages"] == 0


@pytest.mark.parametrize(("lang", "subject", "heading", "events"), [
    ("fr", "geosignal : résumé du jour, 1 signalement soumis",
     "1 signalement a été soumis depuis le dernier résumé :", "Soumis, puis répondu : Rue Haute"),
    ("nl", "geosignal: samenvatting van de dag, 1 melding ingediend",
     "1 melding ingediend sinds de vorige samenvatting:", "Ingediend, daarna beantwoord: Rue Haute"),
    ("en", "geosignal: daily summary, 1 report submitted",
     "1 report submitted since the last summary:", "Submitted, then answered: Rue Haute"),
])
def test_a_report_asked_and_answered_the_same_day_is_one_report_in_the_digest(app, db, smtp_server, people, lang: str,  # noqa: ANN001
                                                                             subject: str, heading: str,
                                                                             events: str) -> None:
    """A tester's trial: a report filed, asked a question and answered the same day is one
    report waiting for the referent; her digest said « 2 signalements ont été soumis » and
    listed it twice. One entry now, its events in order."""
    db.execute(text("UPDATE users SET locale = :l WHERE email = 'referente2@igretec.com'"), {"l": lang})
    rid = _report(people["rep"])
    assert people["referent"].post(f"/api/v1/reports/{rid}/transitions",
                                   json={"to": "needs_info", "reason": "Quelle rue ?"}).status_code == 200
    assert people["rep"].post(f"/api/v1/reports/{rid}/transitions",
                              json={"to": "submitted", "reason": "Rue Haute"}).status_code == 200
    assert _deliver(app, db, digest=True) == {"messages": 1, "rows": 2, "failed": 0, "skipped": 0}
    [digest] = smtp_server.to("referente2@igretec.com")
    plain, page = _parts(digest)
    reference = _reference(db, rid)
    assert digest["Subject"] == subject
    assert plain.count(reference) == 1 and plain.count(f"{BASE}/signalements/{rid}") == 1
    entry = plain.replace("\r\n", "\n").partition(heading + "\n\n")[2]
    assert entry.startswith(f"- {reference} — Charleroi — ") and f"\n  {events}\n  {BASE}/signalements/{rid}\n" in entry
    assert page.count(f"<strong>{reference}</strong>") == 1
    assert f"{events.rpartition(' Rue Haute')[0].rstrip()} <q>Rue Haute</q><br>" in page.replace("&#39;", "'")


def test_one_report_submitted_then_withdrawn_is_one_report_in_the_digest(app, db, smtp_server, people) -> None:  # noqa: ANN001
    """A tester's trial: a report filed, validated by the referent's colleague and withdrawn by
    its commune the same day made « résumé du jour, 2 signalements » (its two events)."""
    rid = _report(people["rep"])
    assert people["referent"].post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"}).status_code == 200
    assert people["rep"].post(f"/api/v1/reports/{rid}/transitions", json={"to": "withdrawn"}).status_code == 200
    _deliver(app, db, digest=True)
    [digest] = smtp_server.to("referente2@igretec.com")
    assert digest["Subject"] == "geosignal : résumé du jour, 1 signalement"
    plain = _parts(digest)[0]
    assert "1 signalement a été soumis depuis le dernier résumé :" in plain
    assert plain.count(f"- {_reference(db, rid)} — ") == 2  # once submitted, once withdrawn: a section each


def test_choosing_the_digest_moves_pending_submissions_to_it(app, db, smtp_server, people) -> None:  # noqa: ANN001
    _report(people["rep"])
    referent = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    notifications.set_notification_mail(db, referent, "digest")
    assert _deliver(app, db)["messages"] == 0
    assert _deliver(app, db, digest=True)["messages"] == 2


def test_nothing_is_sent_without_an_smtp_server(app, db, smtp_server, people) -> None:  # noqa: ANN001
    report_id = _report(people["rep"])
    with configured(app, SMTP_HOST=""):
        done = _deliver(app, db)
        assert _deliver(app, db, digest=True)["skipped"] == 1
    assert done == {"messages": 0, "rows": 0, "failed": 0, "skipped": 1}
    assert smtp_server.messages == []
    states = db.scalars(select(Notification.state).where(Notification.report_id == uuid.UUID(report_id))).all()
    assert states == ["skipped", "skipped"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failed_delivery_is_retried(app, db, smtp_server, people) -> None:  # noqa: ANN001
    report_id = _report(people["rep"])
    row = select(Notification).where(Notification.report_id == uuid.UUID(report_id), Notification.delivery == "each")
    # nobody listens on the port: the delivery fails, the row waits for a retry
    with configured(app, SMTP_PORT=_free_port()):
        assert _deliver(app, db) == {"messages": 0, "rows": 0, "failed": 1, "skipped": 0}
    pending = db.scalars(row).one()
    db.refresh(pending)
    assert (pending.state, pending.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in pending.last_error
    first_retry = pending.next_attempt_at
    assert _deliver(app, db)["messages"] == 0  # not due yet (1 minute later)
    # the server refuses for now (451): retried again, later
    smtp_server.refuse_next = 1
    assert _deliver(app, db, now=first_retry + timedelta(seconds=1))["failed"] == 1
    db.refresh(pending)
    assert (pending.state, pending.attempts) == ("pending", 2)
    assert pending.last_error.startswith("451")
    assert pending.next_attempt_at - first_retry >= timedelta(minutes=1)
    assert smtp_server.messages == []
    # then it accepts: sent once, marked sent
    assert _deliver(app, db, now=pending.next_attempt_at + timedelta(seconds=1))["messages"] == 1
    db.refresh(pending)
    assert (pending.state, pending.attempts, pending.last_error) == ("sent", 3, None)
    assert [m["To"] for m in smtp_server.messages] == ["referent@igretec.com"]


def test_given_up_after_max_attempts(app, db, smtp_server, people) -> None:  # noqa: ANN001
    report_id = _report(people["rep"])
    db.execute(text("UPDATE notification_outbox SET attempts = :n WHERE report_id = :id"),
               {"n": notifications.MAX_ATTEMPTS - 1, "id": report_id})
    with configured(app, SMTP_PORT=_free_port()):
        assert _deliver(app, db)["failed"] == 1
    state = db.scalar(select(Notification.state).where(Notification.report_id == uuid.UUID(report_id),
                                                       Notification.delivery == "each"))
    assert state == "failed"
    far = datetime.now(UTC) + timedelta(days=2)
    assert _deliver(app, db, now=far)["messages"] == 0


def test_deactivated_recipients_get_nothing(app, db, smtp_server, people) -> None:  # noqa: ANN001
    _report(people["rep"])
    db.execute(text("UPDATE users SET active = false WHERE email = 'referent@igretec.com'"))
    assert _deliver(app, db) == {"messages": 0, "rows": 0, "failed": 0, "skipped": 1}
    assert smtp_server.messages == []


def test_recipients_moved_since_the_row_was_queued_are_not_told(app, db, smtp_server, people) -> None:  # noqa: ANN001
    """The account as it is when the message leaves: a representative of Charleroi moved to
    Châtelet, and a referent made Châtelet's representative, since a row was queued, are not
    told of Charleroi's report (they may not read it any more); the others are."""
    report_id = _report(people["rep"])
    referent = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    notifications.notify_transition(db, [report_id], "needs_info", referent, "Quelle rue ?", "submitted")
    db.execute(text("UPDATE users SET commune_nis = :n WHERE email = 'agent@charleroi.be'"), {"n": CHATELET})
    db.execute(text("UPDATE users SET role = 'representative', commune_nis = :n "
                    "WHERE email = 'referent@igretec.com'"), {"n": CHATELET})
    done = _deliver(app, db)
    assert done == {"messages": 1, "rows": 1, "failed": 0, "skipped": 2}
    assert [m["To"] for m in smtp_server.messages] == ["echevin@charleroi.be"]


def test_preferences_page(app, db, people) -> None:  # noqa: ANN001
    from tests.conftest import csrf_token

    referent = people["referent"]
    referent.login()
    page = referent.client.get("/compte/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="each" checked' in html
    saved = referent.client.post("/compte/notifications", data={"notification_mail": "digest",
                                                                "csrf_token": csrf_token(html)})
    assert saved.status_code == 302
    assert db.scalar(select(User.notification_mail).where(User.email == "referent@igretec.com")) == "digest"
    refused = referent.client.post("/compte/notifications", data={"notification_mail": "hourly",
                                                                  "csrf_token": csrf_token(html)})
    assert refused.status_code == 422
    assert db.scalar(select(User.notification_mail).where(User.email == "referent@igretec.com")) == "digest"


def test_the_workflow_queues_the_mail_of_a_transition(app, db, smtp_server, people) -> None:  # noqa: ANN001
    """Through the real workflow (POST …/transitions): the rejection's reason reaches both
    representatives of Charleroi in the same transaction as the move."""
    report_id = _report(people["rep"])
    reason = "Couverture 4G confirmée par les mesures de l'IBPT"
    response = people["referent"].post(f"/api/v1/reports/{report_id}/transitions",
                                       json={"to": "rejected", "reason": reason})
    assert response.status_code == 200, response.get_json()
    rows = db.execute(select(Notification.kind, Notification.from_status, Notification.to_status,
                             Notification.reason, Notification.actor_role)
                      .where(Notification.report_id == uuid.UUID(report_id), Notification.kind == "transition")).all()
    assert rows == [("transition", "submitted", "rejected", reason, "referent")] * 2
    _deliver(app, db)
    for to in ("echevin@charleroi.be", "agent@charleroi.be"):
        [message] = smtp_server.to(to)
        assert f"Motif : {reason}" in _parts(message)[0]
    # a refused move writes nothing
    again = people["referent"].post(f"/api/v1/reports/{report_id}/transitions", json={"to": "validated"})
    assert again.status_code == 409
    assert db.scalar(select(text("count(*)")).select_from(Notification).where(
        Notification.report_id == uuid.UUID(report_id), Notification.kind == "transition")) == 2


def test_an_answer_to_the_referents_question_is_said_as_one(app, db, smtp_server, people) -> None:  # noqa: ANN001
    # a referent's trial: the commune's answer reached her as « nouveau signalement … attend
    # votre validation », nothing saying it answered her question
    report_id = _report(people["rep"], dx=700.0)
    _deliver(app, db)
    smtp_server.messages.clear()
    asked = people["referent"].post(f"/api/v1/reports/{report_id}/transitions",
                                    json={"to": "needs_info", "reason": "Quel opérateur ?"})
    assert asked.status_code == 200, asked.get_json()
    answered = people["rep"].post(f"/api/v1/reports/{report_id}/transitions",
                                  json={"to": "submitted", "reason": "Proximus et Orange"})
    assert answered.status_code == 200, answered.get_json()
    _deliver(app, db)
    [message] = smtp_server.to("referent@igretec.com")
    reference = _reference(db, report_id)
    assert message["Subject"] == f"geosignal : réponse à votre question sur {reference} (Charleroi)"
    plain, page = _parts(message)
    sentence = "La commune a répondu à votre question ; le signalement attend à nouveau votre validation :"
    assert sentence in plain and "Réponse : Proximus et Orange" in plain
    assert sentence.replace("'", "&#39;") in page or sentence in page


def test_a_representative_who_chose_no_language_is_written_to_in_that_of_her_pages(app, client, db, smtp_server,
                                                                                  people) -> None:  # noqa: ANN001
    """The mayor of a Dutch-speaking browser, who never used the language switcher, read every
    page in Dutch but was told of the rejection in French: e-mails follow the language of her
    latest sign-in when she chose none (``page_locale``), her choice when she made one."""
    report_id = _report(people["rep"])
    client.set_cookie("geosignal_lang", "nl")
    people["rep"].login()
    people["rep2"].login()  # (its choice, made before, wins over the browser's)
    db.execute(text("UPDATE users SET locale = 'en' WHERE email = 'agent@charleroi.be'"))
    db.commit()
    user = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    notifications.notify_transition(db, [report_id], "rejected", user, "Hors zone", from_statuses="submitted")
    _deliver(app, db)
    [dutch] = smtp_server.to("echevin@charleroi.be")
    [english] = smtp_server.to("agent@charleroi.be")
    assert "Afgewezen" in dutch["Subject"] and '<html lang="nl"' in _parts(dutch)[1]
    assert "Rejected" in english["Subject"]
    assert dutch["Date"] and english["Date"]


def test_dutch_and_english_messages_put_no_space_before_a_colon(app, db, smtp_server, people) -> None:  # noqa: ANN001
    """A trial: « Reden : », « Vraag : », « Antwoord : », "Operator's note : " (the label's
    colon was French, hard-coded after the translated label in the text and HTML parts)."""
    ids = [_report(people["rep"], dx=300.0 * k) for k in range(3)]
    db.execute(text("UPDATE users SET locale = 'nl' WHERE email = 'echevin@charleroi.be'"))
    db.execute(text("UPDATE users SET locale = 'en' WHERE email = 'agent@charleroi.be'"))
    referent = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    rep = db.scalar(select(User).where(User.email == "echevin@charleroi.be"))
    notifications.notify_transition(db, [ids[0]], "rejected", referent, "Hors zone", "submitted")
    notifications.notify_transition(db, [ids[1]], "needs_info", referent, "Quelle rue", "submitted")
    notifications.notify_transition(db, [ids[1]], "submitted", rep, "Rue Haute", "needs_info")
    notifications.notify_transition(db, [ids[2]], "resolved", referent, "Antenne posée", "transmitted")
    _deliver(app, db)
    dutch = [_parts(m) for m in smtp_server.to("echevin@charleroi.be")]
    english = [_parts(m) for m in smtp_server.to("agent@charleroi.be")]
    dutch_text = "\n".join(plain for plain, _page in dutch)
    english_text = "\n".join(plain for plain, _page in english)
    for line in ("Reden: Hors zone", "Vraag: Quelle rue", "Notitie van de operator: Antenne posée"):
        assert line in dutch_text
    for line in ("Reason: Hors zone", "Question: Quelle rue", "Answer: Rue Haute", "Operator's note: Antenne posée"):
        assert line in english_text
    assert "<span>Reden: </span>" in "".join(page for _plain, page in dutch)
    for plain, page in dutch + english:
        assert " :" not in plain and " :" not in page
    # French keeps its space before the colon
    french = [_parts(m)[0] for m in smtp_server.to("referent@igretec.com")]
    assert any("Réponse : Rue Haute" in plain for plain in french)


# ---- choosing and stopping the e-mails (a trial: representatives could not) ---------------

def _choose(account, choice: str):  # noqa: ANN001, ANN201
    """Sign ``account`` in and choose ``choice`` on its e-mail preferences page."""
    from tests.conftest import csrf_token

    account.login()
    page = account.client.get("/compte/notifications").get_data(as_text=True)
    return account.client.post("/compte/notifications", data={"notification_mail": choice,
                                                              "csrf_token": csrf_token(page)})


def test_a_representative_chooses_each_digest_or_none_on_her_page(app, db, smtp_server, people) -> None:  # noqa: ANN001
    """The page offers the referent's three choices (one declaration:
    NOTIFICATION_MAIL_CHOICES); a representative on « none » gets nothing, on the digest one
    message a day; her colleague, still on « each », one per event."""
    from geosignal.models.notification import NOTIFICATION_MAIL_CHOICES

    ids = [_report(people["rep"], dx=300.0 * k) for k in range(2)]
    people["rep"].login()
    page = people["rep"].client.get("/compte/notifications").get_data(as_text=True)
    assert re.findall(r'name="notification_mail" value="(\w+)"', page) == list(NOTIFICATION_MAIL_CHOICES)
    assert 'value="each" checked' in page
    assert _choose(people["rep"], "none").status_code == 302
    assert _choose(people["chatelet"], "digest").status_code == 302
    people["rep2"].client = people["rep2"].client.application.test_client()
    referent = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    db.execute(text("UPDATE notification_outbox SET state = 'sent'"))  # the submissions: not this test's
    assert notifications.notify_transition(db, ids, "validated", referent, None, "submitted") == 2  # rep2 only
    assert _deliver(app, db) == {"messages": 1, "rows": 2, "failed": 0, "skipped": 0}
    assert smtp_server.to("echevin@charleroi.be") == []
    assert len(smtp_server.to("agent@charleroi.be")) == 1
    assert _deliver(app, db, digest=True)["messages"] == 0
    # Châtelet's representative on the digest: her commune's changes of the day in one message
    x, y = CHARLEROI_LAMBERT72
    chatelet_ids = []
    for k in range(2):
        report = Report(commune_nis=CHATELET, network="mobile", status="submitted",
                        geometry=f"SRID=4326;POINT({4.51 + 0.001 * k} 50.40)")
        db.add(report)
        db.flush()
        chatelet_ids.append(report.id)
    notifications.notify_transition(db, chatelet_ids, "validated", referent, None, "submitted")
    assert _deliver(app, db)["messages"] == 0
    assert _deliver(app, db, digest=True) == {"messages": 1, "rows": 2, "failed": 0, "skipped": 0}
    [digest] = smtp_server.to("echevin@chatelet.be")
    assert digest["Subject"] == "geosignal : résumé du jour, 2 changements de statut dans votre commune"
    assert "2 changements de statut depuis le dernier résumé :" in _parts(digest)[0]


def test_choosing_none_drops_the_pending_messages(app, db, smtp_server, people) -> None:  # noqa: ANN001
    report_id = _report(people["rep"])
    referent = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    notifications.notify_transition(db, [report_id], "needs_info", referent, "Quelle rue ?", "submitted")
    rep2 = db.scalar(select(User).where(User.email == "agent@charleroi.be"))
    notifications.set_notification_mail(db, rep2, "none")
    _deliver(app, db)
    assert smtp_server.to("agent@charleroi.be") == []
    assert db.scalar(select(Notification.state).where(Notification.recipient_id == rep2.id)) == "skipped"
    assert len(smtp_server.to("echevin@charleroi.be")) == 1


def _unsubscribe_link(db, email: str) -> str:  # noqa: ANN001
    user = db.scalar(select(User).where(User.email == email))
    return notifications.unsubscribe_url(BASE, "test", user.id, user.email)


def test_every_message_links_the_settings_and_carries_a_one_click_unsubscribe(app, db, smtp_server,  # noqa: ANN001
                                                                             people) -> None:
    report_id = _report(people["rep"])
    referent = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    notifications.notify_transition(db, [report_id], "needs_info", referent, "Quelle rue ?", "submitted")
    _deliver(app, db)
    for to, sentence in (
            ("echevin@charleroi.be", "Vous recevez ce message en tant que représentant·e de votre commune sur "
                                     "geosignal. Un message par changement, un résumé par jour ou aucun e-mail : "),
            ("referent@igretec.com", "Vous recevez ce message en tant que référent·e Smart Region. Un message par "
                                     "signalement, un résumé par jour ou aucun e-mail : ")):
        [message] = smtp_server.to(to)
        link = _unsubscribe_link(db, to)
        assert re.fullmatch(rf"{re.escape(BASE)}/compte/notifications/desabonnement\?jeton=\d+\.[A-Za-z0-9_-]{{43}}",
                            link)
        assert message["List-Unsubscribe"] == f"<{link}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        plain, page = _parts(message)
        plain = plain.replace("\r\n", "\n")
        assert f"{sentence}{BASE}/compte/notifications\n" in plain
        assert f"Ne plus recevoir d'e-mails de geosignal : {link}\n" in plain
        assert f'href="{BASE}/compte/notifications"' in page and f'href="{link}"' in page
    [raw] = [r for r in smtp_server.raw if b"\nTo: echevin@charleroi.be\r\n" in r]
    header = f"\r\nList-Unsubscribe: <{_unsubscribe_link(db, 'echevin@charleroi.be')}>\r\n".encode()
    assert header in raw  # one line, as is: no RFC 2047 encoded words
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    # without https (a development address) the header stays, RFC 8058's one-click does not
    db.execute(text("UPDATE notification_outbox SET state = 'pending'"))
    smtp_server.messages.clear()
    notifications.deliver_pending(db, MailSettings.from_config(app.config), "http://127.0.0.1:5000")
    [message] = smtp_server.to("echevin@charleroi.be")
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:5000/compte/notifications/desabonnement?jeton=")
    assert message["List-Unsubscribe-Post"] is None


@owner_only  # (it moves an account to another address: the service role may not)
def test_one_click_unsubscribe_by_post_only_and_bad_tokens_refused(app, client, db, smtp_server, people) -> None:  # noqa: ANN001
    """RFC 8058: a POST ``List-Unsubscribe=One-Click`` to the link, with no session nor CSRF
    token, stops the e-mails; a GET (what mail scanners do) only asks; a token that is not
    the account's (altered, another account's id, cut, or the address changed) gets 404 and
    changes nothing."""
    report_id = _report(people["rep"])
    referent = db.scalar(select(User).where(User.email == "referent@igretec.com"))
    notifications.notify_transition(db, [report_id], "needs_info", referent, "Quelle rue ?", "submitted")
    link = _unsubscribe_link(db, "echevin@charleroi.be")
    path = link.removeprefix(BASE)
    token = path.partition("jeton=")[2]

    def choice() -> str:
        db.expire_all()
        return db.scalar(select(User.notification_mail).where(User.email == "echevin@charleroi.be"))

    asked = client.get(path)
    assert asked.status_code == 200 and choice() == "each"
    # the page holds the link's secret (in its form) and the address: kept by no cache
    assert asked.headers["Cache-Control"] == "no-store" and "Cookie" in asked.headers["Vary"]
    html = asked.get_data(as_text=True)
    assert "Ne plus envoyer d'e-mails de geosignal à echevin@charleroi.be ?" in html
    assert f'action="{path}"' in html.replace("&amp;", "&")
    other = db.scalar(select(User.id).where(User.email == "agent@charleroi.be"))
    user_id, _dot, mac = token.partition(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    for bad in (f"{user_id}.{flipped}", f"{other}.{mac}", token[:-1], "", "x.y", f"{user_id}.{mac}=",
                f"{user_id}.{'é' * 43}", f"9999999999.{mac}"):  # (an id beyond the column's range: no 400)
        refused = client.post("/compte/notifications/desabonnement", query_string={"jeton": bad},
                              data={"List-Unsubscribe": "One-Click"})
        assert refused.status_code == 404, bad
        assert 'data-code="invalid_unsubscribe_link"' in refused.get_data(as_text=True)
        assert client.get("/compte/notifications/desabonnement", query_string={"jeton": bad}).status_code == 404
    assert choice() == "each"
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "C'est fait : echevin@charleroi.be ne reçoit plus d'e-mails de geosignal." in done.get_data(as_text=True)
    assert choice() == "none"
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200  # twice: the same
    _deliver(app, db)
    assert smtp_server.to("echevin@charleroi.be") == []
    assert notifications.notify_transition(db, [report_id], "validated", referent, None, "submitted") == 1  # rep2
    # the address changed: the old link no longer works
    db.execute(text("UPDATE users SET notification_mail = 'each', email = 'mayor@charleroi.be' "
                    "WHERE email = 'echevin@charleroi.be'"))
    db.commit()
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    db.expire_all()
    assert db.scalar(select(User.notification_mail).where(User.email == "mayor@charleroi.be")) == "each"


def test_the_unsubscribe_page_speaks_the_accounts_language(app, client, db, people) -> None:  # noqa: ANN001
    db.execute(text("UPDATE users SET locale = 'nl' WHERE email = 'echevin@charleroi.be'"))
    db.commit()
    path = _unsubscribe_link(db, "echevin@charleroi.be").removeprefix(BASE)
    html = client.get(path).get_data(as_text=True)
    assert "Geen e-mails van geosignal meer sturen naar echevin@charleroi.be?" in html
    done = client.post(path, data={"List-Unsubscribe": "One-Click"}).get_data(as_text=True)
    assert "Gedaan: echevin@charleroi.be ontvangt geen e-mails van geosignal meer." in done


# ---- withdrawals the referent must know of (a trial: she was not told) --------------------

def test_the_referent_is_told_of_withdrawals_of_what_she_validated_exported_or_grouped(app, db, smtp_server,  # noqa: ANN001
                                                                                       people) -> None:
    """The trial: the clerk withdrew CM-2026-00009 (validated, carried by export run 2, not yet
    marked as sent) and CM-2026-00013 (validated, in a zone the referent had confirmed, which
    disappeared); only the representatives were told. Now each referent is, by their choice
    (one message, or the digest), with the facts as they were: the export and its state, the
    zone and what is left of it, the role and commune that withdrew. A withdrawn report that
    none of that concerns tells her nothing."""
    from zoneinfo import ZoneInfo

    rep, rep2, referent = people["rep"], people["rep2"], people["referent"]
    a, b, e = (_report(rep, dx=dx) for dx in (0.0, 100.0, 50.0))  # one place: a zone of three
    alone, draft = _report(rep, dx=-1500.0), _report(rep, dx=-3000.0)
    for rid in (a, b, e, alone):
        assert referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"}).status_code == 200
    exported = referent.get(f"/api/v1/exports/dwconnect?commune={CHARLEROI}")
    assert exported.status_code == 200 and len(exported.get_json()["features"]) == 4  # read whole: the run recorded
    run_at = db.scalar(text("SELECT created_at FROM export_runs WHERE id = :id"),
                       {"id": exported.headers["X-Export-Run"]})
    zone = db.scalar(text("SELECT zone_id FROM zone_reports WHERE report_id = :id"), {"id": a})
    assert referent.post(f"/api/v1/zones/{zone}/confirm", json={}).status_code == 200
    db.execute(text("UPDATE notification_outbox SET state = 'sent'"))
    db.commit()

    def withdraw(account, rid: str) -> None:  # noqa: ANN001
        response = account.post(f"/api/v1/reports/{rid}/transitions", json={"to": "withdrawn"})
        assert response.status_code == 200, response.get_json()

    withdraw(rep2, b)  # the zone keeps a and e
    withdraw(rep, draft)  # submitted, never exported nor grouped: nothing for the referent
    _deliver(app, db)
    [first] = smtp_server.to("referent@igretec.com")
    when = run_at.astimezone(ZoneInfo("Europe/Brussels")).strftime("%d/%m/%Y à %H:%M")
    ref_b = _reference(db, b)
    assert first["Subject"] == f"geosignal : {ref_b} retiré par la commune (Charleroi)"
    plain = _parts(first)[0].replace("\r\n", "\n")
    assert ("Une commune a retiré un signalement que vous aviez validé, qu'un export a emporté ou qui était "
            "dans une zone confirmée :\n\n"
            f"- {ref_b} — Charleroi — Mobile, Aucune couverture\n"
            "  « Validé » → « Retiré »\n"
            "  Retiré par : Représentant·e communal·e (Charleroi)\n"
            f"  Emporté par l'export du {when}, pas encore marqué comme transmis\n"
            f"  Zone {zone} : il lui reste 2 signalements\n"
            f"  {BASE}/signalements/{b}\n") in plain
    assert f"Emporté par l&#39;export du {when}, pas encore marqué comme transmis" in _parts(first)[1] or \
        f"Emporté par l'export du {when}, pas encore marqué comme transmis" in _parts(first)[1]
    _no_personal_data(first, allowed="referent@igretec.com")
    rows = db.execute(text("SELECT report_id::text, kind FROM notification_outbox WHERE kind = 'withdrawal'")).all()
    assert sorted(rows) == [(b, "withdrawal")] * 2  # the two referents; nothing of the draft
    # the zone's last two: withdrawing e removes it
    smtp_server.messages.clear()
    withdraw(rep2, e)
    _deliver(app, db)
    [second] = smtp_server.to("referent@igretec.com")
    assert f"  Zone {zone} supprimée : il ne lui restait pas deux signalements\n" in _parts(second)[0].replace(
        "\r\n", "\n")
    assert db.scalar(text("SELECT count(*) FROM zones WHERE id = :z"), {"z": zone}) == 0
    # validated only (no export carried it: a new report after the run)
    late = _report(rep, dx=-4500.0)
    assert referent.post(f"/api/v1/reports/{late}/transitions", json={"to": "validated"}).status_code == 200
    _deliver(app, db)  # its submission
    db.execute(text("UPDATE notification_outbox SET state = 'sent' WHERE kind = 'submission'"))
    smtp_server.messages.clear()
    withdraw(rep, late)
    _deliver(app, db)
    [third] = smtp_server.to("referent@igretec.com")
    third_plain = _parts(third)[0]
    assert "« Validé » → « Retiré »" in third_plain and "Emporté" not in third_plain and "Zone" not in third_plain
    # the referent on the digest: the day's withdrawals in one message
    done = _deliver(app, db, digest=True)
    assert done == {"messages": 1, "rows": 3, "failed": 0, "skipped": 0}
    [digest] = smtp_server.to("referente2@igretec.com")
    assert digest["Subject"] == "geosignal : résumé du jour, 3 signalements retirés par leur commune"
    for rid in (b, e, late):
        assert _reference(db, rid) in _parts(digest)[0]


def test_a_referent_who_chose_none_is_not_told_of_withdrawals(app, db, smtp_server, people) -> None:  # noqa: ANN001
    rid = _report(people["rep"])
    assert people["referent"].post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"}).status_code == 200
    db.execute(text("UPDATE users SET notification_mail = 'none' WHERE role = 'referent'"))
    db.commit()
    assert people["rep"].post(f"/api/v1/reports/{rid}/transitions", json={"to": "withdrawn"}).status_code == 200
    assert db.scalar(text("SELECT count(*) FROM notification_outbox WHERE kind = 'withdrawal'")) == 0


@pytest.mark.parametrize(("language", "written"), [("en", "Carried by the export of 26 Oct 2025, 02:30"),
                                                   ("nl", "26/10/2025 om 02:30"),
                                                   ("fr", "Emporté par l'export du 26/10/2025 à 02:30")])
def test_a_withdrawal_mail_writes_the_exports_time_as_its_readers_pages_do(app, client, db, smtp_server, people,
                                                                           language, written) -> None:  # noqa: ANN001
    """The export's time was written 26/10/2025 02:30 in every language; the reader's export
    history page writes « 26 Oct 2025, 02:30 » in English (Brussels time: the run at 01:30 UTC
    on 26 October 2025, the second 02:30 of that night)."""
    rep, referent = people["rep"], people["referent"]
    rid = _report(rep)
    assert referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"}).status_code == 200
    exported = referent.get(f"/api/v1/exports/dwconnect?commune={CHARLEROI}")
    assert len(exported.get_json()["features"]) == 1  # (read whole: the run is recorded)
    db.execute(text("UPDATE export_runs SET created_at = '2025-10-26T01:30:00Z'"))
    db.execute(text("UPDATE users SET locale = :l WHERE email = 'referent@igretec.com'"), {"l": language})
    db.execute(text("UPDATE notification_outbox SET state = 'sent'"))
    db.commit()
    assert rep.post(f"/api/v1/reports/{rid}/transitions", json={"to": "withdrawn"}).status_code == 200
    _deliver(app, db)
    [mail] = smtp_server.to("referent@igretec.com")
    assert written in _parts(mail)[0], _parts(mail)[0]


def test_a_digest_that_failed_is_retried_by_the_periodic_task_and_new_events_wait(app, db, smtp_server,
                                                                                  people, monkeypatch) -> None:  # noqa: ANN001
    """A digest refused at 06:00 was set to retry a minute later, but the 5-minute retry task
    looked at per-event rows only: it waited a day (and after 8 days of failures was given
    up). The task retries a digest that failed; a digest row never tried waits for 06:00."""
    from geosignal import jobs
    from geosignal.models import Notification

    _report(people["rep"])  # referente2 is on the daily digest
    with configured(app, SMTP_PORT=_free_port()):  # the mail server is down at 06:00
        assert _deliver(app, db, digest=True)["failed"] == 1
    _report(people["rep"], dx=500.0)  # a new event after the digest: for tomorrow's
    db.execute(text("UPDATE notification_outbox SET next_attempt_at = now() - interval '1 second' "
                    "WHERE delivery = 'digest'"))  # a minute later, the retry time of the failed one
    monkeypatch.setattr(jobs, "_flask_app", app)
    jobs._send_mail_periodic(0)
    digests = db.scalars(select(Notification).where(Notification.delivery == "digest").order_by(Notification.id)).all()
    for row in digests:
        db.refresh(row)
    assert [(row.state, row.attempts) for row in digests] == [("sent", 2), ("pending", 0)]
    assert len(smtp_server.to("referente2@igretec.com")) == 1


def test_one_send_mail_run_tries_a_refused_message_once(app, db, smtp_server, people) -> None:  # noqa: ANN001
    """``geosignal send-mail`` (every pending row due) tried a message refused with 451 again
    in its next pass, milliseconds later: two attempts of the eight in one run."""
    _report(people["rep"])
    _report(people["rep"], dx=500.0)
    smtp_server.refuse_next = 1
    done = notifications.deliver_from_config(app.extensions["geosignal.db"], app.config,
                                             now=notifications.EVERY_PENDING)
    rows = db.execute(text("SELECT state, attempts FROM notification_outbox WHERE delivery = 'each' "
                           "ORDER BY id")).all()
    assert sorted(tuple(r) for r in rows) == [("pending", 1), ("sent", 1)]  # the refused one waits for its time
    assert (done["messages"], done["failed"]) == (1, 1)


@pytest.mark.parametrize(("lang", "written", "more"), [
    ("fr", "geosignal : 1\u202f299 nouveaux signalements", "… et 1\u202f249 autres"),
    ("nl", "geosignal: 1.299 nieuwe meldingen", "… en 1.249 andere"),
    ("en", "geosignal: 1,299 new reports", "… and 1,249 more")])
def test_counts_in_a_mail_are_written_as_its_language_writes_numbers(app, lang: str, written: str,
                                                                       more: str) -> None:  # noqa: ANN001
    """An import of 1,299 reports was told as « 1299 new reports » in every language, where
    every page writes 1 299 · 1.299 · 1,299."""
    import uuid

    rows = [dict(id=i, kind="submission", reference=f"CM-2026-{i:05d}", commune_nis=CHARLEROI, commune="Charleroi",
                 report_id=uuid.uuid4(), network="mobile", issue=None, from_status=None, to_status="submitted",
                 reason=None, actor_role="representative", details=None) for i in range(1, 1300)]
    message = notifications.Message(1, "a@b.be", lang, "submission", False, rows)
    subject, plain, html = notifications.render(message, BASE)
    assert subject == written
    assert more in plain and more in html
    # an identifier stays as it is: « Zone 1234 », never « Zone 1 234 »
    withdrawn = {**rows[0], "kind": "withdrawal", "from_status": "validated", "to_status": "withdrawn",
                 "details": {"zone": 1234, "zone_removed": False, "zone_reports": 1500}}
    _, plain, _ = notifications.render(notifications.Message(1, "a@b.be", lang, "withdrawal", False, [withdrawn]),
                                       BASE)
    zone_line = {"fr": "Zone 1234 : il lui reste 1\u202f500 signalements",
                 "nl": "Zone 1234: er blijven 1.500 meldingen over", "en": "Zone 1234: 1,500 reports left"}[lang]
    assert f"  {zone_line}\n" in plain


def test_an_admin_s_act_is_said_as_an_admin_s_not_as_the_commune_s(app, db, people, smtp_server) -> None:  # noqa: ANN001
    """An admin (IGRETEC, no commune) who files a report or withdraws a validated one is named
    by role alone, in both parts and in the subject: the referent read « retiré par la commune
    (Charleroi) », « Une commune a retiré… » and « Administrateur·rice (Charleroi) », an act of
    IGRETEC told as Charleroi's own. A representative's stays said with her commune."""
    admin, referent = people["admin"], people["referent"]
    filed = _report(admin)
    _deliver(app, db)
    [submission] = smtp_server.to("referent@igretec.com")
    plain, page = _parts(submission)
    assert "  Soumis par : Administrateur·rice\n" in plain.replace("\r\n", "\n"), plain
    assert "Soumis par : Administrateur·rice<br>" in page and "(Charleroi)<br>" not in page, page
    assert referent.post(f"/api/v1/reports/{filed}/transitions", json={"to": "validated"}).status_code == 200
    smtp_server.messages.clear()
    withdrawn = admin.post(f"/api/v1/reports/{filed}/transitions", json={"to": "withdrawn", "reason": "doublon"})
    assert withdrawn.status_code == 200, withdrawn.get_json()
    _deliver(app, db)
    [withdrawal] = smtp_server.to("referent@igretec.com")
    reference = _reference(db, filed)
    assert withdrawal["Subject"] == f"geosignal : {reference} retiré (Charleroi)"
    plain, page = _parts(withdrawal)
    plain = plain.replace("\r\n", "\n")
    assert ("1 signalement que vous aviez validé, qu'un export a emporté ou qui était dans une zone confirmée a été "
            f"retiré :\n\n- {reference} — Charleroi — Mobile, Aucune couverture\n  « Validé » → « Retiré »\n"
            "  Retiré par : Administrateur·rice\n") in plain, plain
    assert "Une commune" not in plain and "Retiré par : Administrateur·rice<br>" in page, page
    # an admin's answer to the referent's question is not « La commune a répondu »
    asked_of = _report(admin, dx=-1500.0)
    assert referent.post(f"/api/v1/reports/{asked_of}/transitions",
                         json={"to": "needs_info", "reason": "Quel opérateur ?"}).status_code == 200
    _deliver(app, db)  # its submission, and the question to Charleroi
    smtp_server.messages.clear()
    answered = admin.post(f"/api/v1/reports/{asked_of}/transitions", json={"to": "submitted", "reason": "Orange"})
    assert answered.status_code == 200, answered.get_json()
    _deliver(app, db)
    [answer] = smtp_server.to("referent@igretec.com")
    plain, page = _parts(answer)
    sentence = "Votre question a reçu une réponse ; le signalement attend à nouveau votre validation :"
    assert sentence in plain and sentence in page and "La commune a répondu" not in plain + page, plain
