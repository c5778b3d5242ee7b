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


# ---- a delivery pass holds no lock while it talks to the mail server ------------------------

@pytest.fixture(scope="module")
def silent_smtp():  # noqa: ANN201
    """A TCP server that accepts connections and never says a word (no 220 greeting): a relay
    behind a firewall that drops packets, a hung server."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def _referent_token(app) -> str:  # noqa: ANN001
    with app.extensions["geosignal.db"].session() as session:
        token = create_token(session, "referent@igretec.com")
        session.commit()
    return token


def _questions(app, count: int, dx: float) -> list[str]:  # noqa: ANN001
    """``count`` reports filed by the representative (west of the centre from ``dx`` m on), then each asked a question by the
    referent (one message per report to the representative); every other pending row is put
    out of the way (``sent``). Returns the report ids."""
    ids = [_file(app, dx - 400.0 * k) for k in range(count)]
    with app.extensions["geosignal.db"].session() as session:
        session.execute(text("UPDATE notification_outbox SET state = 'sent' WHERE state = 'pending'"))
        session.commit()
    client, referent = app.test_client(), {"Authorization": f"Bearer {_referent_token(app)}"}
    for report_id in ids:
        asked = client.post(f"/api/v1/reports/{report_id}/transitions", json={"to": "needs_info", "reason": "Quelle rue ?"},
                            headers=referent)
        assert asked.status_code == 200, asked.get_json()
    return ids


def _unsubscribe(app, email: str):  # noqa: ANN001, ANN202
    """The one-click unsubscribe (RFC 8058 POST) of ``email``'s account."""
    user_id = _scalar(app, "SELECT id FROM users WHERE email = :e", e=email)
    token = notifications.unsubscribe_token(app.config["SECRET_KEY"], user_id, email)
    return app.test_client().post(f"{notifications.UNSUBSCRIBE_PATH}?jeton={token}",
                                  data={"List-Unsubscribe": "One-Click"})


def _choose_each_again(app, email: str) -> None:  # noqa: ANN001
    with app.extensions["geosignal.db"].session() as session:
        session.execute(text("UPDATE users SET notification_mail = 'each' WHERE email = :e"), {"e": email})
        session.execute(text("UPDATE notification_outbox SET state = 'sent' WHERE state = 'pending'"))
        session.commit()


def test_a_hung_mail_server_holds_neither_an_unsubscribe_nor_the_pass(mail_app, silent_smtp) -> None:  # noqa: ANN001
    """A tester's trial: behind a mail server that accepts the connection and never answers,
    a delivery pass kept the rows it claimed locked while it waited 10 s per message; the
    representative's one-click unsubscribe waited for those locks and answered 503 after 20 s,
    her choice not stored. Now the unsubscribe is immediate, and the pass stops at the first
    connection that gets no greeting: the other messages are postponed with the same error,
    not each waited for."""
    import time

    from tests.conftest import configured

    ids = [*_questions(mail_app, 3, -1000.0), _file(mail_app, -2200.0)]  # and a message to the referent (after hers)
    database = mail_app.extensions["geosignal.db"]
    took: list[float] = []
    with configured(mail_app, SMTP_PORT=silent_smtp):
        def deliver() -> None:
            started = time.monotonic()
            notifications.deliver_from_config(database, mail_app.config)
            took.append(time.monotonic() - started)

        delivery = threading.Thread(target=deliver)
        delivery.start()
        time.sleep(1.5)  # the pass has claimed the rows and waits for the greeting
        started = time.monotonic()
        answer = _unsubscribe(mail_app, "echevin@charleroi.be")
        waited = time.monotonic() - started
        delivery.join()
    try:
        assert answer.status_code == 200 and waited < 3, (answer.status_code, round(waited, 1))
        assert _scalar(mail_app, "SELECT notification_mail FROM users WHERE email = 'echevin@charleroi.be'") == "none"
        # one greeting waited for (10 s), not one per message (four messages: 40 s)
        assert notifications.SMTP_TIMEOUT_S <= took[0] < 2 * notifications.SMTP_TIMEOUT_S, took
        with database.engine.connect() as connection:
            rows = [tuple(r) for r in connection.execute(text(
                "SELECT u.email, o.state, o.attempts, o.last_error, o.leased_by IS NULL "
                "FROM notification_outbox o JOIN users u ON u.id = o.recipient_id "
                "WHERE o.report_id = ANY(CAST(:ids AS uuid[])) AND o.delivery = 'each' AND o.state <> 'sent' "
                "ORDER BY u.email"), {"ids": ids}).all()]
        # her rows dropped (the pass's failure does not bring them back), the referent's postponed
        assert rows == [("echevin@charleroi.be", "skipped", 0, None, True)] * 3 + [
            ("referent@igretec.com", "pending", 1, "SMTPServerDisconnected: Connection unexpectedly closed: timed out",
             True)], rows
    finally:
        _choose_each_again(mail_app, "echevin@charleroi.be")


def test_a_recipient_who_unsubscribes_during_a_pass_is_not_sent_what_was_claimed(mail_app, mailbox,
                                                                                 monkeypatch) -> None:  # noqa: ANN001
    """The pass claimed a message to the representative and one to the referent; while the
    first leaves, the referent unsubscribes (the page answers at once: no lock is held): her
    message, claimed before, is not sent, and stays ``skipped``."""
    mailbox.messages.clear()
    _questions(mail_app, 1, -2600.0)
    _file(mail_app, -3000.0)  # the referent's message (she sorts after the representative)
    answers = []
    send = notifications._Sender.send

    def send_and_unsubscribe(sender, message) -> None:  # noqa: ANN001
        if not answers:
            answers.append(_unsubscribe(mail_app, "referent@igretec.com"))
        send(sender, message)

    monkeypatch.setattr(notifications._Sender, "send", send_and_unsubscribe)
    try:
        done = notifications.deliver_from_config(mail_app.extensions["geosignal.db"], mail_app.config)
        assert [a.status_code for a in answers] == [200]
        assert done == {"messages": 1, "rows": 1, "failed": 0, "skipped": 0}  # (dropped by her choice)
        assert [m["To"] for m in mailbox.messages] == ["echevin@charleroi.be"]
        assert _scalar(mail_app, "SELECT count(*) FROM notification_outbox o JOIN users u ON u.id = o.recipient_id "
                       "WHERE u.email = 'referent@igretec.com' AND o.state = 'skipped' AND o.leased_by IS NULL") == 1
    finally:
        _choose_each_again(mail_app, "referent@igretec.com")


def test_a_pass_killed_after_sending_leaves_its_messages_to_the_next_once_its_lease_is_over(mail_app, mailbox,
                                                                                          monkeypatch) -> None:  # noqa: ANN001
    """A worker killed after the server accepted its first message, before recording it: the
    rows it claimed stay leased (a pass meanwhile does not take them: no copy while it might
    still be sending), then go with the next pass once its lease is over — the message the
    server accepted a second time with the same ``Message-ID`` (delivery is at least once), the
    other once."""
    mailbox.messages.clear()
    _questions(mail_app, 2, -3400.0)
    database = mail_app.extensions["geosignal.db"]
    send = notifications._Sender.send

    def send_then_die(sender, message) -> None:  # noqa: ANN001
        send(sender, message)
        raise SystemExit("killed")

    monkeypatch.setattr(notifications._Sender, "send", send_then_die)
    with pytest.raises(SystemExit):
        notifications.deliver_from_config(database, mail_app.config)
    monkeypatch.setattr(notifications._Sender, "send", send)
    [first] = mailbox.messages
    leased = "SELECT count(*) FROM notification_outbox WHERE state = 'pending' AND leased_until > now()"
    assert _scalar(mail_app, leased) == 2
    assert notifications.deliver_from_config(database, mail_app.config, now=notifications.EVERY_PENDING)["messages"] == 0
    assert len(mailbox.messages) == 1
    with database.session() as session:  # the lease runs out
        session.execute(text("UPDATE notification_outbox SET leased_until = now() - interval '1 second' "
                             "WHERE leased_until IS NOT NULL"))
        session.commit()
    assert notifications.deliver_from_config(database, mail_app.config)["messages"] == 2
    assert sorted(m["Message-ID"] for m in mailbox.messages).count(first["Message-ID"]) == 2
    assert len({m["Message-ID"] for m in mailbox.messages}) == 2
    assert _scalar(mail_app, "SELECT count(*) FROM notification_outbox WHERE state = 'pending'") == 0
