"""Transitions, set-wise transitions and edits racing on the same reports across the
Charleroi/Châtelet border, in real concurrent transactions against PostGIS: the stored figures
equal a recomputation afterwards, and each report's journal is one unbroken chain of statuses
ending at its current status."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import shapely
from shapely import affinity
from sqlalchemy import text

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.services import reports as reports_service
from geosignal.services import workflow as workflow_service
from geosignal.services.intake import ReportInput
from tests.conftest import run_together
from tests.test_concurrency import (  # noqa: F401  (fixtures)
    _add_job,
    _admin,
    _assert_stored_equals_recomputed,
    _clear_reports,
    _zones,
    border,
    database,
)

#: What a racing writer may be told: somebody else moved or edited the report first.
RACE_CODES = ("invalid_transition", "precondition_failed", "not_editable")


def _transition_job(ids: list[str], to: str, seed: int) -> Callable:
    def job(session) -> None:  # noqa: ANN001
        admin = _admin(session)
        for rid in random.Random(seed).sample(ids, len(ids)):
            try:
                workflow_service.transition(session, rid, to, admin, "Motif du test")
            except GeosignalError as error:
                assert error.code in RACE_CODES, error
                session.rollback()
                continue
            session.commit()
    return job


def _bulk_job(ids: list[str], to: str) -> Callable:
    def job(session) -> None:  # noqa: ANN001
        result = workflow_service.transition_many(session, ids, to, _admin(session), "Lot du test")
        assert {r["code"] for r in result["refused"]} <= set(RACE_CODES)
        session.commit()
    return job


def _edit_job(ids: list[str], dx: float, seed: int) -> Callable:
    """Move each report ``dx`` metres east (EPSG:31370) through the edit path, with the ETag
    read just before (a writer that lost the race gets 412 or 409 and skips it)."""
    def job(session) -> None:  # noqa: ANN001
        admin = _admin(session)
        for rid in random.Random(seed).sample(ids, len(ids)):
            feature = reports_service.get_report(session, admin, rid)
            geom = reproject(shapely.geometry.shape(feature["geometry"]), WGS84, LAMBERT72)
            moved = shapely.orient_polygons(reproject(affinity.translate(geom, dx, 0), LAMBERT72, WGS84))
            props = {k: v for k, v in reports_service.current_input(feature).items() if k != "observed_at"}
            try:
                reports_service.edit_report(session, admin, rid, ReportInput(moved, props),
                                            if_match=workflow_service.etag(feature["properties"]["revision"]))
            except GeosignalError as error:
                assert error.code in RACE_CODES, error
                session.rollback()
                continue
            session.commit()
    return job


def test_transitions_bulk_moves_and_edits_keep_figures_and_journal_exact(database, border) -> None:  # noqa: ANN001, F811
    _clear_reports(database)
    run_together(database, [_add_job(_zones(border, 36, seed=11), 0)])
    with database.session() as session:
        ids = [str(i) for i in session.scalars(text("SELECT id FROM reports ORDER BY seq"))]
    jobs = [
        _transition_job(ids[0::3], "validated", 1),
        _transition_job(ids[0::3], "rejected", 2),      # races the validator on the same reports
        _transition_job(ids[1::3], "needs_info", 3),
        _transition_job(ids[1::6], "withdrawn", 4),
        _bulk_job(ids[2::3], "validated"),
        _transition_job(ids[2::6], "withdrawn", 5),    # races the bulk validation
        _edit_job(ids[1::2], 120.0, 6),
        _edit_job(ids[0::2], -80.0, 7),
        _edit_job(ids[1::4], 40.0, 8),                  # races the other editor on the same reports
    ]
    run_together(database, jobs)
    _assert_stored_equals_recomputed(database)
    with database.session() as session:
        status = dict(session.execute(text("SELECT id::text, status FROM reports")).all())
        chains = session.execute(text("""
            SELECT report_id::text, array_agg(action ORDER BY id), array_agg(from_status ORDER BY id),
                   array_agg(to_status ORDER BY id)
            FROM audit_events WHERE report_id IS NOT NULL GROUP BY 1""")).all()
        moved = session.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'edit'"))
    assert moved > 0 and len(chains) == len(ids) == 36
    for rid, actions, sources, targets in chains:
        assert actions[0] == "create"
        current = targets[0]
        for action, source, target in zip(actions[1:], sources[1:], targets[1:], strict=True):
            if action == "edit":
                continue
            assert source == current, (rid, actions, sources, targets)
            current = target
        assert current == status[rid], rid
    assert {s for s in status.values()} - {"validated", "rejected", "needs_info", "withdrawn", "submitted"} == set()


def test_evidence_added_while_the_report_is_withdrawn_is_refused(database, border) -> None:  # noqa: ANN001, F811
    """A speed test or a photo added while another transaction withdraws the report (its row
    locked, not yet committed) waits for it, then is refused as for a closed report (409): the
    status was read before the lock, and a closed report kept evidence added after its end."""
    import io
    import threading
    import time

    from PIL import Image

    from geosignal.services import evidence

    _clear_reports(database)
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "JPEG")
    adds = {"speed test": lambda s, u, rid: evidence.add_speed_test(s, u, rid, {"download_mbps": 1.5, "measured_at": "2026-01-02"}),
            "photo": lambda s, u, rid: evidence.add_photo(s, u, rid, out.getvalue())}
    for k, (what, add) in enumerate(adds.items()):
        with database.session() as session:
            geom = _zones(border, 1, seed=11 + k)[0]
            created, _ = reports_service.create_report(session, _admin(session), ReportInput(geom, {"network": "mobile"}))
            session.commit()
        rid = created["id"]
        locked, refused = threading.Event(), []

        def withdraw(session, rid=rid, locked=locked) -> None:  # noqa: ANN001
            workflow_service.transition(session, rid, "withdrawn", _admin(session))
            locked.set()
            time.sleep(0.5)  # the row stays locked while the other adds its evidence
            session.commit()

        def add_evidence(session, rid=rid, locked=locked, add=add, refused=refused) -> None:  # noqa: ANN001
            locked.wait(10)
            try:
                add(session, _admin(session), rid)
                session.commit()
            except GeosignalError as error:
                refused.append((error.code, error.status))
                session.rollback()

        run_together(database, [withdraw, add_evidence])
        assert refused == [("conflict", 409)], what
        with database.session() as session:
            status, tests, photos = session.execute(text(
                "SELECT status, (SELECT count(*) FROM report_speed_tests WHERE report_id = r.id), "
                "(SELECT count(*) FROM report_photos WHERE report_id = r.id) FROM reports r WHERE id = :id"),
                {"id": rid}).one()
        assert (status, tests, photos) == ("withdrawn", 0, 0), what


def test_an_edit_with_if_match_star_keeps_a_change_committed_meanwhile(database) -> None:  # noqa: ANN001, F811
    """``PATCH`` with ``If-Match: *`` sending one property, while another transaction holds the
    report's row and changes another property: the edit waits, then merges into the report as
    the other left it. It merged into a copy read before the lock and wrote the other's
    ``households_affected`` back (9 → 5, journalled as the representative's edit)."""
    import threading
    import time

    from geosignal import create_app
    from geosignal.services.users import create_token, create_user
    from tests.conftest import CHARLEROI
    from tests.factories import CHARLEROI_LAMBERT72, square_lambert, to_geojson_4326

    _clear_reports(database)
    app = create_app({"TESTING": True, "ENV": "testing", "SECRET_KEY": "test", "TILE_URL": "",
                      "DATABASE_URL": database.engine.url.render_as_string(hide_password=False)})
    with database.session() as session:
        create_user(session, "echevin.star@charleroi.be", "representative", CHARLEROI, "correct horse battery")
        headers = {"Authorization": f"Bearer {create_token(session, 'echevin.star@charleroi.be')}"}
        session.commit()
    geometry = to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, 200.0))
    client = app.test_client()
    filed = client.post("/api/v1/reports", headers=headers, json={
        "type": "Feature", "geometry": geometry,
        "properties": {"network": "mobile", "households_affected": 5, "description": "avant"}})
    assert filed.status_code == 201, filed.get_json()
    rid = filed.get_json()["id"]
    answers = []

    def patch() -> None:
        answers.append(app.test_client().patch(f"/api/v1/reports/{rid}", headers={**headers, "If-Match": "*"},
                                               json={"properties": {"description": "après"}}))

    with database.engine.connect() as other:
        with other.begin():
            other.execute(text("UPDATE reports SET households_affected = 9 WHERE id = :id"), {"id": rid})
            editor = threading.Thread(target=patch)
            editor.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not other.execute(text(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database())")).scalar():
                time.sleep(0.05)
        editor.join(30)
    assert answers[0].status_code == 200, answers[0].get_json()
    properties = answers[0].get_json()["properties"]
    assert (properties["description"], properties["households_affected"]) == ("après", 9)
    with database.session() as session:
        assert session.execute(text("SELECT description, households_affected FROM reports WHERE id = :id"),
                               {"id": rid}).one() == ("après", 9)
    app.extensions["geosignal.db"].engine.dispose()


def test_the_same_evidence_twice_at_once_is_stored_once(database, border) -> None:  # noqa: ANN001, F811
    """The same speed test (its date written two ways) or the same photo added by two
    transactions at once, each holding its insert a moment before committing: both were
    stored. The second waits for the first's commit (the report's evidence lock), then finds
    it and returns it (``probable_duplicate``, status 200)."""
    import io
    import time

    from PIL import Image

    from geosignal.services import evidence

    _clear_reports(database)
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (30, 200, 30)).save(out, "JPEG")
    adds = {"speed test": [lambda s, u, rid, at=at: evidence.add_speed_test(
                s, u, rid, {"download_mbps": 1.5, "operator": "Proximus", "measured_at": at})
                for at in ("2026-01-02T10:00:00+01:00", "2026-01-02T09:00:00Z")],
            "photo": [lambda s, u, rid: evidence.add_photo(s, u, rid, out.getvalue())] * 2}
    for k, (what, pair) in enumerate(adds.items()):
        with database.session() as session:
            geom = _zones(border, 1, seed=21 + k)[0]
            created, _ = reports_service.create_report(session, _admin(session), ReportInput(geom, {"network": "mobile"}))
            session.commit()
        rid = created["id"]
        statuses: list[int] = []

        def job(session, add, rid=rid, statuses=statuses) -> None:  # noqa: ANN001
            statuses.append(add(session, _admin(session), rid).status)
            time.sleep(0.5)  # the row inserted, not yet committed
            session.commit()

        run_together(database, [lambda s, add=add: job(s, add) for add in pair])
        assert sorted(statuses) == [200, 201], what
        with database.session() as session:
            tests, photos = session.execute(text(
                "SELECT (SELECT count(*) FROM report_speed_tests WHERE report_id = :id), "
                "(SELECT count(*) FROM report_photos WHERE report_id = :id)"), {"id": rid}).one()
        assert (tests, photos) == ((1, 0) if what == "speed test" else (0, 1)), what


@pytest.mark.parametrize(("before", "after"), [("each", "digest"), ("digest", "each")])
def test_the_delivery_chosen_while_a_transition_commits_is_how_its_news_is_sent(app, database, smtp_server,  # noqa: ANN001, F811
                                                                                before: str, after: str) -> None:
    """A representative saves « un résumé par jour » (or back to « un e-mail par évènement »)
    while the referent's validation of one of her commune's reports is being written (two real
    transactions, interleaved): the transition's outbox row read her old choice, and her save
    could not see it to move it. The news goes out as she chose: in her digest and not at once
    (it left at once, alone), or at once and not left for the next day's digest."""
    from datetime import UTC, datetime, timedelta

    from geosignal.models import User
    from geosignal.services import notifications
    from geosignal.services.mail import MailSettings
    from geosignal.services.users import create_user
    from tests.conftest import CHARLEROI
    from tests.factories import CHARLEROI_LAMBERT72, square_lambert

    _clear_reports(database)
    rep_email, ref_email = "digest-race@charleroi.be", "digest-race@igretec.com"
    with database.session() as s:
        s.execute(text("DELETE FROM notification_outbox"))
        for email, role, nis in ((rep_email, "representative", CHARLEROI), (ref_email, "referent", None)):
            if s.query(User).filter_by(email=email).first() is None:
                create_user(s, email, role, nis, "correct horse battery")
        s.execute(text("UPDATE users SET notification_mail = 'each' WHERE email = :b"), {"b": ref_email})
        s.execute(text("UPDATE users SET notification_mail = :m WHERE email = :a"), {"a": rep_email, "m": before})
        zone = shapely.orient_polygons(reproject(square_lambert(*CHARLEROI_LAMBERT72, 200.0), LAMBERT72, WGS84))
        feature, _ = reports_service.create_report(s, _admin(s), ReportInput(geometry=zone, properties={
            "network": "mobile", "technologies": ["4G"], "operators": ["Orange"], "issue": "no_coverage",
            "setting": "outdoor"}))
        s.commit()
    a, b = database.session(), database.session()
    try:
        workflow_service.transition(a, feature["id"], "validated", a.query(User).filter_by(email=ref_email).one())
        notifications.set_notification_mail(b, b.query(User).filter_by(email=rep_email).one(), after)
        b.commit()  # her choice first, the transition's rows after (written while she chose)
        a.commit()
    finally:
        a.close()
        b.close()
    settings = MailSettings.from_config(app.config)
    with database.session() as s:
        notifications.deliver_pending(s, settings, "https://geosignal.example")  # the « each » pass
        s.commit()
        if after == "digest":
            assert smtp_server.to(rep_email) == []  # not at once, alone
        rows = s.execute(text("SELECT o.delivery, o.state FROM notification_outbox o JOIN users u "
                              "ON u.id = o.recipient_id WHERE u.email = :e"), {"e": rep_email}).all()
        assert rows == ([("digest", "pending")] if after == "digest" else [("each", "sent")])
        notifications.deliver_pending(s, settings, "https://geosignal.example", digest=True,
                                      now=datetime.now(UTC) + timedelta(days=1))  # the next day's digest
        s.commit()
    [message] = smtp_server.wait_to(rep_email, 1)
    assert feature["properties"]["reference"] in message.get_body(("plain",)).get_content()
    assert ("résumé" in message["Subject"].lower()) == (after == "digest"), message["Subject"]
