"""Notifications end to end on committed data (a scratch database of their own: job workers
see only committed rows): a report filed through the API queues its e-mail in the same
transaction, a real procrastinate worker sends it to a real SMTP server; concurrent delivery
passes send each message exactly once; the ``send-mail``, ``send-digest`` and ``purge``
commands."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from geosignal import create_app, jobs
from geosignal.cli import _n
from geosignal.devdb import scratch_database
from geosignal.services import notifications
from geosignal.services.users import create_token, create_user
from tests.conftest import CHARLEROI, COMMUNES_FILE, Mailbox
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

BASE = "https://geosignal.example.be"


@pytest.fixture(scope="module")
def mailbox():  # noqa: ANN201
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def mail_app(mailbox, database_url):  # noqa: ANN001, ANN201
    # Flask-Limiter's limiter is one per process: its counters stay in the run's database,
    # which outlives this module's scratch database
    with scratch_database("geosignal_mail", COMMUNES_FILE) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "test",
                          "TILE_URL": "", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailbox.port,
                          "PUBLIC_BASE_URL": BASE, "RATELIMIT_STORAGE_URI": "geosignal+" + database_url})
        with app.extensions["geosignal.db"].session() as session:
            create_user(session, "echevin@charleroi.be", "representative", CHARLEROI, "correct horse battery")
            create_user(session, "referent@igretec.com", "referent", None, "correct horse battery")
            create_user(session, "digest@igretec.com", "referent", None, "correct horse battery").notification_mail = "digest"
            app.config["TEST_TOKEN"] = create_token(session, "echevin@charleroi.be")
            session.commit()
        yield app
        app.extensions["geosignal.db"].engine.dispose()


def _scalar(app, sql: str, **params):  # noqa: ANN001, ANN003, ANN202
    with app.extensions["geosignal.db"].engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def _file(app, dx: float) -> str:  # noqa: ANN001
    x, y = CHARLEROI_LAMBERT72
    response = app.test_client().post(
        "/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x + dx, y, 150.0))),
        headers={"Authorization": f"Bearer {app.config['TEST_TOKEN']}"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_a_filed_report_queues_its_mail_and_a_worker_sends_it(mail_app, mailbox) -> None:  # noqa: ANN001
    mailbox.messages.clear()
    report_id = _file(mail_app, 0.0)
    # committed together: the outbox row and the job that sends it
    assert _scalar(mail_app, "SELECT count(*) FROM notification_outbox WHERE report_id = :id AND state = 'pending'",
                   id=report_id) == 2
    assert _scalar(mail_app, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND status = 'todo'",
                   t=notifications.MAIL_TASK) >= 1
    jobs.run_worker(mail_app, wait=False, install_signal_handlers=False)
    [message] = mailbox.to("referent@igretec.com")
    reference = _scalar(mail_app, "SELECT reference FROM reports WHERE id = :id", id=report_id)
    assert reference in message["Subject"]
    assert f"{BASE}/signalements/{report_id}" in message.get_body(("plain",)).get_content()
    # the digest subscriber gets no message of its own for it; only the daily digest, when the
    # worker happens to run just after its cron tick (06:00 UTC: a CI run failed there)
    assert [m["Subject"] for m in mailbox.to("digest@igretec.com") if "résumé du jour" not in m["Subject"]] == []
    assert _scalar(mail_app, "SELECT state FROM notification_outbox WHERE report_id = :id AND delivery = 'each'",
                   id=report_id) == "sent"
    assert _scalar(mail_app, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND status = 'todo'",
                   t=notifications.MAIL_TASK) == 0


def test_concurrent_delivery_sends_each_message_once(mail_app, mailbox) -> None:  # noqa: ANN001
    """Four delivery passes at once on 24 pending messages: SKIP LOCKED shares them out, each
    is sent exactly once and marked sent."""
    mailbox.messages.clear()
    database = mail_app.extensions["geosignal.db"]
    with database.session() as session:
        ids = session.execute(text("SELECT id FROM reports ORDER BY seq LIMIT 1")).scalars().all()
        for _ in range(24):  # 24 events, one message each to the referent on "each"
            notifications.notify_created(session, ids)
        session.commit()
    due = _scalar(mail_app, "SELECT count(*) FROM notification_outbox WHERE state = 'pending' AND delivery = 'each'")
    assert due == 24
    totals: list[dict[str, int]] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        totals.append(notifications.deliver_from_config(database, mail_app.config))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(t["messages"] for t in totals) == 24
    assert len(mailbox.messages) == 24
    assert len({m["Message-ID"] for m in mailbox.messages}) == 24
    assert _scalar(mail_app, "SELECT count(*) FROM notification_outbox WHERE state = 'pending' AND delivery = 'each'") == 0


def test_send_mail_and_send_digest_commands(mail_app, mailbox) -> None:  # noqa: ANN001
    mailbox.messages.clear()
    ids = [_file(mail_app, 300.0 * (k + 1)) for k in range(3)]
    runner = mail_app.test_cli_runner()
    sent = runner.invoke(args=["send-mail"])
    assert sent.exit_code == 0, sent.output
    assert sent.output.startswith("3 messages sent (3 notifications), 0 failed")
    digest = runner.invoke(args=["send-digest"])
    assert digest.exit_code == 0, digest.output
    assert "1 digest message sent" in digest.output
    [message] = mailbox.to("digest@igretec.com")
    plain = message.get_body(("plain",)).get_content()
    for report_id in ids:
        assert f"{BASE}/signalements/{report_id}" in plain
    again = runner.invoke(args=["send-digest"])
    assert again.output.startswith("0 digest messages sent")


def test_send_mail_sends_what_waits_for_a_retry_too(mail_app, mailbox) -> None:  # noqa: ANN001
    # an operator trial: after the mail server was mended, send-mail said "0 messages sent"
    # while two notifications waited for their retry time, 47 s later
    mailbox.messages.clear()
    _file(mail_app, 1500.0)
    database = mail_app.extensions["geosignal.db"]
    with database.session() as session:
        waiting = session.execute(text(
            "UPDATE notification_outbox SET attempts = 1, next_attempt_at = now() + interval '10 minutes', "
            "last_error = 'connection refused' WHERE state = 'pending' AND delivery = 'each' RETURNING id")).all()
        session.commit()
    assert waiting
    sent = mail_app.test_cli_runner().invoke(args=["send-mail"])
    assert sent.exit_code == 0, sent.output
    assert sent.output.startswith(_n(len(waiting), "message") + f" sent ({_n(len(waiting), 'notification')})")
    assert len(mailbox.messages) == len(waiting)
    assert _scalar(mail_app, "SELECT count(*) FROM notification_outbox WHERE state = 'pending' AND delivery = 'each'") == 0


def test_purge_reports_photos(mail_app) -> None:  # noqa: ANN001
    result = mail_app.test_cli_runner().invoke(args=["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete 0 photos of reports closed more than 365 days ago (0 bytes)" in result.output
