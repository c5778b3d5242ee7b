"""Exports marked as sent: a recorded run marked as transmitted moves exactly its reports still
validated to ``transmitted`` (journalled, idempotent, who and when recorded), "only what is new
since the last transmitted export" selects exactly the new ones, the period selects by the
report's date, the history reads in plain French, and the CLI has the same choices. One test
marks the same run from two connections at once (real concurrent transactions)."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from geosignal.db import Database
from geosignal.devdb import scratch_database
from geosignal.services.export import transmission
from geosignal.services.users import create_user
from tests.conftest import CHARLEROI, COMMUNES_FILE, csrf_token
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_queue import add_report, chatelet_xy

BRUSSELS = ZoneInfo("Europe/Brussels")
CHATELET = "52012"
EXPORT = "/api/v1/exports/dwconnect"
X0, Y0 = CHARLEROI_LAMBERT72


def status_of(db, ids) -> dict[str, str]:  # noqa: ANN001
    rows = db.execute(text("SELECT id::text, status FROM reports WHERE id::text = ANY(:ids)"), {"ids": list(ids)})
    return dict(rows.all())


def plain(html: str) -> str:
    """The text of a page: tags dropped, white space collapsed."""
    import re

    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def run_item(page: str, run_id: str) -> str:
    """The text of one run's entry in the exports page's history."""
    return plain(page.split(f'id="run-{run_id}"')[1].split("</li>")[0])


def exported_ids(response) -> list[str]:  # noqa: ANN001
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [f["id"] for f in json.loads(response.get_data())["features"]]


@pytest.fixture
def reports(db) -> dict[str, str]:  # noqa: ANN001
    """Validated: a, b, c (Charleroi), d (Châtelet); submitted: e (Charleroi)."""
    admin = create_user(db, "sent-admin@igretec.com", "admin", None, "correct horse battery")
    db.flush()
    cx, cy = chatelet_xy(db)
    ids = {
        "a": add_report(db, admin, square_lambert(X0, Y0, 200), status="validated", created="2026-01-10",
                        observed="2026-01-05"),
        "b": add_report(db, admin, square_lambert(X0 + 400, Y0, 200), status="validated", created="2026-02-10"),
        "c": add_report(db, admin, square_lambert(X0 + 800, Y0, 200), status="validated", created="2026-03-01",
                        observed="2026-02-25"),
        "d": add_report(db, admin, square_lambert(cx, cy, 200), status="validated", created="2026-02-15"),
        "e": add_report(db, admin, square_lambert(X0 + 1200, Y0, 200), created="2026-02-20"),
    }
    db.commit()
    return ids


def test_mark_transmitted_moves_exactly_the_runs_validated_reports(db, reports, referent, representative) -> None:  # noqa: ANN001
    response = referent.get(f"{EXPORT}?commune={CHARLEROI}")
    assert sorted(exported_ids(response)) == sorted([reports["a"], reports["b"], reports["c"]])
    run_id = response.headers["X-Export-Run"]
    # c is withdrawn by its commune after the export was made: it stays withdrawn
    db.execute(text("UPDATE reports SET status = 'withdrawn' WHERE id = :id"), {"id": reports["c"]})
    db.commit()
    assert representative.post(f"/api/v1/exports/runs/{run_id}/transmitted").status_code == 403
    assert referent.get(f"/api/v1/exports/runs/{run_id}/transmitted").status_code == 405
    first = referent.post(f"/api/v1/exports/runs/{run_id}/transmitted")
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["run_id"], body["already"], body["moved"], body["not_moved"]) == (run_id, False, 2, 1)
    assert body["transmitted_actor"] == referent.email
    assert status_of(db, reports.values()) == {reports["a"]: "transmitted", reports["b"]: "transmitted",
                                               reports["c"]: "withdrawn", reports["d"]: "validated",
                                               reports["e"]: "submitted"}
    # changed by nothing but their transmission: DWconnect has them in their current state
    from geosignal.services import export as export_service

    assert export_service.transmitted_state(db, [reports[k] for k in "abd"]) == \
        {reports["a"]: "current", reports["b"]: "current", reports["d"]: "never"}
    # each move is journalled with the run
    # (the journal is append-only: earlier tests' events stay; read this test's reports' only)
    mine = {"ids": list(reports.values())}
    events = db.execute(text("SELECT report_id::text, from_status, to_status, actor_role, details->>'export_run' "
                             "FROM audit_events WHERE to_status = 'transmitted' "
                             "AND report_id = ANY(CAST(:ids AS uuid[])) ORDER BY report_id"), mine).all()
    assert sorted(events) == sorted((reports[k], "validated", "transmitted", "referent", run_id) for k in "ab")
    # idempotent: nothing changes the second time, who and when stay the first ones
    run = referent.get(f"/api/v1/exports/runs/{run_id}").get_json()
    assert run["mark_transmitted"] is True and run["transmitted_actor"] == referent.email
    assert run["transmitted_role"] == "referent" and run["transmitted_at"] == body["transmitted_at"]
    again = referent.post(f"/api/v1/exports/runs/{run_id}/transmitted")
    assert again.status_code == 200
    assert again.get_json() == {**body, "already": True, "moved": 0, "not_moved": 0}
    assert db.scalar(text("SELECT count(*) FROM audit_events WHERE to_status = 'transmitted' "
                          "AND report_id = ANY(CAST(:ids AS uuid[]))"), mine) == 2
    assert referent.post("/api/v1/exports/runs/00000000-0000-0000-0000-000000000000/transmitted").status_code == 404
    assert referent.post("/api/v1/exports/runs/nope/transmitted").status_code == 404


def test_only_new_since_the_last_transmitted_export(db, reports, referent) -> None:  # noqa: ANN001
    # none transmitted yet: every validated report, and the run says the choice was made
    everything = referent.get(f"{EXPORT}?since=last_transmitted")
    assert sorted(exported_ids(everything)) == sorted(reports[k] for k in "abcd")
    first_id = everything.headers["X-Export-Run"]
    first = referent.get(f"/api/v1/exports/runs/{first_id}").get_json()
    assert first["filters"]["since_last_transmitted"] == "none" and first["filters"]["since"] is None
    # a Charleroi export, then f validated before it is marked and g after: both are new
    run = referent.get(f"{EXPORT}?commune={CHARLEROI}")
    assert sorted(exported_ids(run)) == sorted(reports[k] for k in "abc")  # read to the end: recorded
    run_id = run.headers["X-Export-Run"]
    admin = db.execute(text("SELECT id FROM users WHERE email = 'sent-admin@igretec.com'")).scalar_one()
    from geosignal.models import User

    user = db.get(User, admin)
    f = add_report(db, user, square_lambert(X0, Y0 + 600, 200), status="submitted", created="2026-03-02")
    g = add_report(db, user, square_lambert(X0, Y0 + 1200, 200), status="submitted", created="2026-03-03")
    db.commit()
    db.execute(text("UPDATE reports SET status = 'validated' WHERE id = :id"), {"id": f})
    db.commit()
    assert referent.post(f"/api/v1/exports/runs/{run_id}/transmitted").get_json()["moved"] == 3
    db.execute(text("UPDATE reports SET status = 'validated' WHERE id = :id"), {"id": g})
    db.commit()
    new = referent.get(f"{EXPORT}?since=last_transmitted")
    # a, b, c went out (now transmitted); d, Châtelet's, was validated before that export but
    # never sent (the run was Charleroi's): DWconnect lacks it, it is new. (The watermark of
    # the last marked run hid it for good.)
    assert sorted(exported_ids(new)) == sorted([reports["d"], f, g])
    recorded = referent.get(f"/api/v1/exports/runs/{new.headers['X-Export-Run']}").get_json()["filters"]
    # a run of one commune gives no watermark: no run marked carried everything DWconnect is sent
    assert (recorded["since_last_transmitted"], recorded["since"]) == ("none", None)
    assert transmission.since_last_transmitted(db) == (None, None)
    # for DWconnect, the reports that went out and were only marked since are not new: DWconnect
    # has them (a, b, c came back as `transmitted`: the marking was taken for news); a report
    # rejected without ever being validated is never sent
    rejected = add_report(db, user, square_lambert(X0, Y0 + 1800, 200), status="submitted", created="2026-03-04")
    db.commit()
    db.execute(text("UPDATE reports SET status = 'rejected' WHERE id = :id"), {"id": rejected})
    db.commit()
    every = referent.get(f"{EXPORT}?since=last_transmitted&status=dwconnect")
    assert sorted(exported_ids(every)) == sorted([reports["d"], f, g])
    # one of them changed after it went out: it is news again
    db.execute(text("UPDATE reports SET description = 'corrigé' WHERE id = :id"), {"id": reports["a"]})
    db.commit()
    assert sorted(exported_ids(referent.get(f"{EXPORT}?since=last_transmitted&status=dwconnect"))) == \
        sorted([reports["a"], reports["d"], f, g])
    # that pass marked: it carried everything DWconnect is sent, its watermark is the bound
    sent = referent.post(f"{EXPORT}?since=last_transmitted&status=dwconnect&mark_transmitted=true")
    assert sorted(exported_ids(sent)) == sorted([reports["a"], reports["d"], f, g])
    watermark = db.scalar(text("SELECT watermark FROM export_runs WHERE id = :id"), {"id": sent.headers["X-Export-Run"]})
    assert transmission.since_last_transmitted(db) == (watermark, sent.headers["X-Export-Run"])
    assert exported_ids(referent.get(f"{EXPORT}?since=last_transmitted")) == []
    # every status, reports never validated included, is no export for DWconnect: refused
    refused = referent.get(f"{EXPORT}?since=last_transmitted&status=all")
    assert refused.status_code == 400
    assert (refused.get_json()["where"], refused.get_json()["kind"]) == ("status", "not_for_dwconnect")


def test_a_change_between_an_export_and_its_marking_is_news(db, reports, referent) -> None:  # noqa: ANN001
    # a, b, c go out validated; then b is withdrawn and c corrected before the run is marked:
    # DWconnect has neither change, so the next "new since the last transmitted" carries both
    # (b was lost: the marking recorded its withdrawal as sent); a, only marked, is not news
    from geosignal.models import User
    from geosignal.services.workflow import transition

    run = referent.get(f"{EXPORT}?commune={CHARLEROI}")
    assert sorted(exported_ids(run)) == sorted(reports[k] for k in "abc")
    transition(db, reports["b"], "withdrawn", db.query(User).filter_by(email="sent-admin@igretec.com").one())
    db.execute(text("UPDATE reports SET description = 'corrigé après l''export' WHERE id = :id"),
               {"id": reports["c"]})
    db.commit()
    marked = referent.post(f"/api/v1/exports/runs/{run.headers['X-Export-Run']}/transmitted").get_json()
    assert (marked["moved"], marked["not_moved"]) == (2, 1)
    assert status_of(db, [reports[k] for k in "abc"]) == {
        reports["a"]: "transmitted", reports["b"]: "withdrawn", reports["c"]: "transmitted"}
    every = json.loads(referent.get(f"{EXPORT}?since=last_transmitted&commune={CHARLEROI}").get_data())
    assert sorted((f["id"], f["properties"]["status"], f["properties"]["description"]) for f in every["features"]) \
        == sorted([(reports["b"], "withdrawn", ""), (reports["c"], "transmitted", "corrigé après l'export")])
    # validated only carries neither: c is transmitted now, b withdrawn
    assert exported_ids(referent.get(f"{EXPORT}?since=last_transmitted&status=validated&commune={CHARLEROI}")) == []


def _sent_admin(db):  # noqa: ANN001, ANN202
    from geosignal.models import User

    return db.query(User).filter_by(email="sent-admin@igretec.com").one()


def test_a_marked_run_of_transmitted_reports_only_hides_no_validated_report(db, reports, referent) -> None:  # noqa: ANN001
    # a run of transmitted reports only (0 of them) was complete "for its statuses": marked,
    # its watermark hid a, b, c and d, validated and never sent, from every later "new since
    # the last transmitted export"
    sent = referent.post(f"{EXPORT}?status=transmitted&mark_transmitted=true")
    assert (sent.status_code, exported_ids(sent)) == (200, [])
    watermark, run = transmission.since_last_transmitted(db)
    assert run == sent.headers["X-Export-Run"]
    assert watermark < min(db.scalars(text("SELECT change_seq FROM reports WHERE status = 'validated'")).all())
    assert sorted(exported_ids(referent.get(f"{EXPORT}?since=last_transmitted"))) == \
        sorted(reports[k] for k in "abcd")
    # validated reports only, marked: they are sent, nothing is new after it
    validated = referent.post(f"{EXPORT}?status=validated&mark_transmitted=true")
    assert sorted(exported_ids(validated)) == sorted(reports[k] for k in "abcd")
    assert transmission.since_last_transmitted(db)[1] == validated.headers["X-Export-Run"]
    assert exported_ids(referent.get(f"{EXPORT}?since=last_transmitted")) == []


@pytest.mark.parametrize("later", ["full", "validated_only"])
def test_a_withdrawal_between_an_export_and_its_marking_stays_news_past_a_later_watermark(
        db, reports, referent, later) -> None:  # noqa: ANN001
    # run A carries b validated; b is withdrawn; a later run (a full export: it carries no
    # removal; or "validated only, new since the last transmitted") is marked after A: its
    # watermark, above b's withdrawal, hid it for good — DWconnect kept b
    from geosignal.services.workflow import transition

    run_a = referent.get(f"{EXPORT}?status=dwconnect")
    assert reports["b"] in exported_ids(run_a)
    transition(db, reports["b"], "withdrawn", _sent_admin(db))
    db.commit()
    if later == "full":
        run_b = referent.get(f"{EXPORT}?status=dwconnect")
        assert reports["b"] not in exported_ids(run_b)
        assert referent.post(f"/api/v1/exports/runs/{run_a.headers['X-Export-Run']}/transmitted").get_json()[
            "not_moved"] == 1
        assert referent.post(f"/api/v1/exports/runs/{run_b.headers['X-Export-Run']}/transmitted").status_code == 200
        # (one transaction in the tests: B marked after A)
        db.execute(text("UPDATE export_runs SET transmitted_at = transmitted_at - interval '1 hour' WHERE id = :id"),
                   {"id": run_a.headers["X-Export-Run"]})
        db.commit()
        assert transmission.since_last_transmitted(db)[1] == run_b.headers["X-Export-Run"]
    else:
        assert referent.post(f"/api/v1/exports/runs/{run_a.headers['X-Export-Run']}/transmitted").status_code == 200
        assert reports["b"] in exported_ids(referent.get(f"{EXPORT}?since=last_transmitted"))
        run_b = referent.post(f"{EXPORT}?since=last_transmitted&status=validated&mark_transmitted=true")
        assert run_b.status_code == 200 and reports["b"] not in exported_ids(run_b)
    news = json.loads(referent.get(f"{EXPORT}?since=last_transmitted").get_data())
    assert [(f["id"], f["properties"]["status"]) for f in news["features"]] == [(reports["b"], "withdrawn")]
    # once a marked run carried the withdrawal, it is no news
    told = referent.post(f"{EXPORT}?since=last_transmitted&mark_transmitted=true")
    assert exported_ids(told) == [reports["b"]]
    assert exported_ids(referent.get(f"{EXPORT}?since=last_transmitted")) == []


def test_period_selects_by_the_reports_date(db, reports, referent) -> None:  # noqa: ANN001
    # a: observed 5 Jan; b: filed 10 Feb (no observation); c: observed 25 Feb; d: filed 15 Feb
    assert sorted(exported_ids(referent.get(f"{EXPORT}?from=2026-02-01&to=2026-02-15"))) == \
        sorted([reports["b"], reports["d"]])
    assert exported_ids(referent.get(f"{EXPORT}?to=2026-01-31")) == [reports["a"]]
    assert sorted(exported_ids(referent.get(f"{EXPORT}?from=2026-02-16&commune={CHARLEROI}"))) == [reports["c"]]
    response = referent.get(f"{EXPORT}?from=2026-03-02&to=2026-03-01")
    assert response.status_code == 400 and response.get_json()["where"] == "from"
    run = referent.get("/api/v1/exports/runs?limit=1").get_json()["runs"][0]
    assert (run["filters"]["from"], run["filters"]["commune"]) == ("2026-02-16", CHARLEROI)


def test_history_reads_in_plain_french_and_the_page_marks_a_run(db, client, reports, referent) -> None:  # noqa: ANN001
    response = referent.get(f"{EXPORT}?commune={CHARLEROI}&from=2026-01-01&to=2026-03-31")
    assert len(exported_ids(response)) == 3
    run_id = response.headers["X-Export-Run"]
    db.execute(text("UPDATE export_runs SET created_at = :t WHERE id = :id"),
               {"t": datetime(2026, 3, 3, 10, 0, tzinfo=BRUSSELS), "id": run_id})
    db.commit()
    assert referent.login().status_code == 302
    page = client.get("/exports").get_data(as_text=True)
    assert ("Export du 3 mars 2026 à 10:00, 3 signalements de Charleroi, période du 1 janvier 2026 au 31 mars 2026, "
            "pas encore marqué comme transmis.") in plain(page)
    token = csrf_token(page)
    assert client.post(f"/exports/{run_id}/transmis").status_code == 400  # no CSRF token
    marked = client.post(f"/exports/{run_id}/transmis", data={"csrf_token": token})
    # back to the top of the page, where the message is said (it was out of view at the run's anchor)
    assert marked.status_code == 302 and marked.headers["Location"].endswith("/exports")
    db.execute(text("UPDATE export_runs SET transmitted_at = :t WHERE id = :id"),
               {"t": datetime(2026, 3, 4, 9, 30, tzinfo=BRUSSELS), "id": run_id})
    db.commit()
    page = client.get("/exports").get_data(as_text=True)
    assert "3 signalements passent au statut « Transmis à DWconnect »." in page
    sentence = ("Export du 3 mars 2026 à 10:00, 3 signalements de Charleroi, période du 1 janvier 2026 au 31 mars 2026, "
                "transmis à DWconnect le 4 mars 2026 à 09:30 par referent@igretec.com (Référent·e Smart Region).")
    assert sentence in plain(page)
    assert f'action="/exports/{run_id}/transmis"' not in page  # no button once transmitted
    again = client.post(f"/exports/{run_id}/transmis", data={"csrf_token": token}, follow_redirects=True)
    assert "déjà marqué comme transmis" in again.get_data(as_text=True)


def test_an_export_of_no_report_is_not_offered_the_mark(db, client, reports, referent) -> None:  # noqa: ANN001
    """A period without reports gives an export of none: nothing to send to DWconnect, so the
    history says so and offers no mark (a referent's trial in English met the button)."""
    response = referent.get(f"{EXPORT}?from=2025-01-01&to=2025-01-31")
    assert response.status_code == 200 and exported_ids(response) == []
    empty = response.headers["X-Export-Run"]
    full = referent.get(f"{EXPORT}?commune={CHARLEROI}&from=2026-01-01&to=2026-03-31")
    assert len(exported_ids(full)) == 3  # (read to its end: the run is recorded then)
    full = full.headers["X-Export-Run"]
    assert referent.login().status_code == 302
    page = client.get("/exports").get_data(as_text=True)
    item = run_item(page, empty)
    assert "de toutes les communes, période du 1 janvier 2025 au 31 janvier 2025, aucun signalement : " \
           "rien à transmettre." in item
    assert f'action="/exports/{empty}/transmis"' not in page
    assert f'action="/exports/{full}/transmis"' in page  # a run with reports still offers it
    nl = client.get("/exports", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert "geen meldingen: niets te bezorgen." in run_item(nl, empty)


def test_the_same_export_in_another_format_is_not_offered_the_mark_once_one_is_marked(
        db, client, reports, referent) -> None:  # noqa: ANN001
    """The referent downloads one export as GeoJSON and as CSV (two runs, the same reports) and
    marks the GeoJSON one: the CSV one says DWconnect has its reports and offers no mark. A run
    made after a change (another watermark) still offers it."""
    geojson = referent.get(f"{EXPORT}?commune={CHARLEROI}")
    assert len(exported_ids(geojson)) == 3  # the stream read to its end: the run is complete
    csv = referent.get(f"{EXPORT}.csv?commune={CHARLEROI}&dialect=excel")
    assert csv.status_code == 200 and csv.get_data(as_text=True).count("\n") == 4  # header and 3 rows
    geojson_run, csv_run = geojson.headers["X-Export-Run"], csv.headers["X-Export-Run"]
    for run_id, at in ((geojson_run, datetime(2026, 3, 3, 10, 0)), (csv_run, datetime(2026, 3, 3, 10, 1))):
        db.execute(text("UPDATE export_runs SET created_at = :t WHERE id = :id"),
                   {"t": at.replace(tzinfo=BRUSSELS), "id": run_id})
    db.commit()
    assert referent.login().status_code == 302
    page = client.get("/exports").get_data(as_text=True)
    # before any mark, both offer it
    assert f'action="/exports/{geojson_run}/transmis"' in page and f'action="/exports/{csv_run}/transmis"' in page
    marked = client.post(f"/exports/{geojson_run}/transmis", data={"csrf_token": csrf_token(page)})
    assert marked.status_code == 302
    db.execute(text("UPDATE export_runs SET transmitted_at = :t WHERE id = :id"),
               {"t": datetime(2026, 3, 4, 9, 30, tzinfo=BRUSSELS), "id": geojson_run})
    db.commit()
    # a change after both runs (a new validated report), then the same export again
    from geosignal.models import User

    add_report(db, db.query(User).filter_by(email="sent-admin@igretec.com").one(), square_lambert(X0 + 1600, Y0, 200), status="validated", created="2026-03-05")
    db.commit()
    later = referent.get(f"{EXPORT}.csv?commune={CHARLEROI}")
    # the new report only: the three marked are "transmitted" since
    assert later.status_code == 200 and later.get_data(as_text=True).count("\n") == 2
    later_run = later.headers["X-Export-Run"]
    page = client.get("/exports").get_data(as_text=True)
    assert f'action="/exports/{csv_run}/transmis"' not in page
    assert ("pas marqué, mais DWconnect a déjà ces signalements tels quels : ce sont ceux de l'export du "
            "3 mars 2026 à 10:00 (GeoJSON), transmis le 4 mars 2026. Rien à marquer. Voir cet export") in plain(page)
    assert f'href="#run-{geojson_run}"' in page
    # each run names its file as the buttons do: two CSV runs read apart
    assert [transmission.format_key(f, o) for f, o in (("csv", {"dialect": "excel"}), ("csv", {"decimal": "comma"}),
            ("csv", {"dialect": "plain", "decimal": "comma"}), ("gpkg", {}))] == [
        "csv", "csv-comma", "csv-plain-comma", "gpkg"]
    assert "· CSV (Excel)</p>" in page and "· GeoJSON</p>" in page
    assert f'action="/exports/{later_run}/transmis"' in page  # it carries a report DWconnect has not
    history = {run["id"]: run for run in transmission.history(db)}
    assert history[csv_run]["same_as"]["id"] == geojson_run
    assert history[later_run]["same_as"] is None and history[geojson_run]["same_as"] is None


def test_export_made_with_mark_transmitted_moves_its_reports(db, reports, referent) -> None:  # noqa: ANN001
    response = referent.post(f"{EXPORT}?mark_transmitted=true&commune={CHATELET}")
    assert exported_ids(response) == [reports["d"]]
    assert status_of(db, [reports["d"], reports["a"]]) == {reports["d"]: "transmitted", reports["a"]: "validated"}
    run = referent.get(f"/api/v1/exports/runs/{response.headers['X-Export-Run']}").get_json()
    assert run["transmitted_actor"] == referent.email and run["transmitted_at"] is not None


def test_cli_since_last_transmitted_and_mark_transmitted(app, db, reports, tmp_path: Path) -> None:  # noqa: ANN001
    runner = app.test_cli_runner()
    out = tmp_path / "charleroi.geojson"
    made = runner.invoke(args=["export", "-o", str(out), "--commune", CHARLEROI, "--from", "2026-02-01"])
    assert made.exit_code == 0, made.output
    assert sorted(f["id"] for f in json.loads(out.read_bytes())["features"]) == sorted([reports["b"], reports["c"]])
    run_id = db.scalar(text("SELECT id::text FROM export_runs WHERE channel = 'cli'"))
    marked = runner.invoke(args=["mark-transmitted", run_id])
    assert marked.exit_code == 0, marked.output
    assert "2 reports now transmitted" in marked.output
    assert "already marked" in runner.invoke(args=["mark-transmitted", run_id]).output
    who = db.execute(text("SELECT transmitted_actor, transmitted_role FROM export_runs WHERE id = :id"),
                     {"id": run_id}).one()
    assert who[0].startswith("cli:") and who[1] == "admin"
    new = tmp_path / "new.geojson"
    again = runner.invoke(args=["export", "-o", str(new), "--since-last-transmitted"])
    assert again.exit_code == 0, again.output
    # a (Charleroi, before the period) and d (Châtelet) were never sent: new, older than the run or not
    assert sorted(f["id"] for f in json.loads(new.read_bytes())["features"]) == sorted([reports["a"], reports["d"]])
    both = runner.invoke(args=["export", "--since", "seq:0", "--since-last-transmitted"])
    assert both.exit_code != 0 and "not both" in both.output
    unknown = runner.invoke(args=["mark-transmitted", "nope"])
    assert unknown.exit_code == 1 and "not_found" in unknown.output
    every = runner.invoke(args=["export", "-o", str(tmp_path / "all.geojson"), "--status", "all", "--mark-transmitted"])
    assert every.exit_code == 1 and "only an export of what DWconnect is sent is marked" in every.output
    assert not (tmp_path / "all.geojson").exists() or (tmp_path / "all.geojson").stat().st_size == 0


# ----------------------------------------------------------------------------- concurrency


@pytest.fixture(scope="module")
def scratch() -> Database:
    """A scratch database of its own (committed data, several connections)."""
    with scratch_database("geosignal_test_sent", COMMUNES_FILE) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        db = Database(url, pool_size=6, max_overflow=0)
        yield db
        db.engine.dispose()


def test_cli_refusals_name_the_command_s_options(app, tmp_path: Path) -> None:  # noqa: ANN001
    """A refused filter is said as the option typed (``--since``), not as the API's query
    parameter (``since``), and nothing is written."""
    runner = app.test_cli_runner()
    out = tmp_path / "x.geojson"
    said = {}
    for args in (["--since", "yesterday"], ["--bbox", "1,2"], ["--from", "2025-03-02", "--to", "2025-03-01"],
                 ["--status", "draft"], ["--commune", "99999"], ["--to", "32/13/2025"]):
        result = runner.invoke(args=["export", "-o", str(out), *args])
        assert result.exit_code == 1, result.output
        said[args[0] if args[0] != "--from" else "period"] = result.output.strip().rsplit(" (at ", 1)[1]
    assert said == {"--since": "--since)", "--bbox": "--bbox)", "period": "--from)", "--status": "--status)",
                    "--commune": "--commune)", "--to": "--to)"}
    assert not out.exists()


def test_two_people_marking_the_same_run_at_once(scratch: Database) -> None:
    """Two transactions mark the same run at the same instant: the run's row lock queues
    them; one moves the reports, the other finds it done; each report moves once."""
    from geosignal.models import User
    from geosignal.services import export as export_service

    with scratch.session() as session:
        admin = create_user(session, "race-sent@igretec.com", "admin", None, "correct horse battery")
        session.flush()
        ids = [add_report(session, admin, square_lambert(X0 + 300 * i, Y0 - 3000, 150), status="validated",
                          created="2026-02-01") for i in range(12)]
        session.commit()
        stream = export_service.stream_export(session, record=export_service.RunRecord(actor="x"))
        for _chunk in stream.chunks:
            pass
        session.commit()
        run_id = stream.run.id
        admin_id = admin.id
    barrier = threading.Barrier(2)
    outcomes: list[dict] = []
    errors: list[BaseException] = []

    def mark() -> None:
        try:
            with scratch.session() as session:
                user = session.get(User, admin_id)
                session.execute(text("SELECT 1"))
                barrier.wait()
                outcomes.append(transmission.mark_transmitted(session, run_id, user))
                session.commit()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=mark) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted((o["already"], o["moved"]) for o in outcomes) == [(False, 12), (True, 0)]
    with scratch.session() as session:
        assert session.scalar(text("SELECT count(*) FROM reports WHERE status = 'transmitted' AND id = ANY(:ids)"),
                              {"ids": ids}) == 12
        assert session.scalar(text("SELECT count(*) FROM audit_events WHERE to_status = 'transmitted'")) == 12


def test_an_export_of_every_status_is_not_marked_as_transmitted(db, reports, referent) -> None:  # noqa: ANN001
    """A run carrying reports never validated (``status=all``, ``submitted``) marked as
    transmitted recorded DWconnect as holding them (``transmitted_state`` ``current``). Refused
    before the export starts (400), or on the recorded run (409); the page offers no marking."""
    before = status_of(db, reports.values())
    for status in ("all", "submitted", "validated,submitted"):
        asked = referent.post(f"{EXPORT}?status={status}&mark_transmitted=true")
        assert asked.status_code == 400, status
        assert (asked.get_json()["code"], asked.get_json()["where"], asked.get_json()["kind"]) == (
            "invalid_request", "status", "not_for_dwconnect")
    everything = referent.get(f"{EXPORT}?status=all")
    assert sorted(exported_ids(everything)) == sorted(reports.values())
    run_id = everything.headers["X-Export-Run"]
    refused = referent.post(f"/api/v1/exports/runs/{run_id}/transmitted")
    assert (refused.status_code, refused.get_json()["kind"]) == (409, "not_for_dwconnect")
    assert status_of(db, reports.values()) == before
    assert db.scalar(text("SELECT transmitted_at FROM export_runs WHERE id = :id"), {"id": run_id}) is None
    referent.login()
    page = referent.client.get("/exports").get_data(as_text=True)
    assert "Marquer comme transmis" not in page.split(f'id="run-{run_id}"')[1].split("</li>")[0]
    # an export of what DWconnect is sent is marked as before
    sent = referent.post(f"{EXPORT}?status=dwconnect&mark_transmitted=true")
    assert sorted(exported_ids(sent)) == sorted(reports[k] for k in "abcd")
    assert status_of(db, [reports["a"]]) == {reports["a"]: "transmitted"}


def test_pages_marked_one_by_one_hide_nothing_from_what_is_new(db, reports, referent) -> None:  # noqa: ANN001
    """A paged "new since the last transmitted export", each page's run marked as it is sent:
    the second page's cursor was refused (the last marked run, part of the filters, had
    changed), and the reports of a page not marked were never new again (the marked page's
    watermark hid them). The pages go on; what no marked run carried stays new."""
    first = referent.get(f"{EXPORT}?since=last_transmitted&limit=2")
    page1 = exported_ids(first)
    assert len(page1) == 2
    cursor = json.loads(first.get_data())["next_cursor"]
    assert referent.post(f"/api/v1/exports/runs/{first.headers['X-Export-Run']}/transmitted").status_code == 200
    second = referent.get(f"{EXPORT}?since=last_transmitted&limit=2&cursor={cursor}")
    page2 = exported_ids(second)
    assert sorted(page1 + page2) == sorted(reports[k] for k in "abcd")
    # the second page not marked: its reports are still new, the first page's are not
    assert sorted(exported_ids(referent.get(f"{EXPORT}?since=last_transmitted"))) == sorted(page2)
    assert referent.post(f"/api/v1/exports/runs/{second.headers['X-Export-Run']}/transmitted").status_code == 200
    assert exported_ids(referent.get(f"{EXPORT}?since=last_transmitted")) == []
    assert transmission.since_last_transmitted(db) == (None, None)  # pages give no watermark


def test_the_history_fragment_opened_as_a_page_is_the_exports_page(client, referent) -> None:  # noqa: ANN001
    # a person following the address got the history's section alone: no frame, no style, a
    # 980 px layout on a phone; the page's script asks for it by a header of its own
    referent.login()
    opened = client.get("/exports/historique")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/exports#history")
    fragment = client.get("/exports/historique", headers={"X-Geosignal-Fragment": "history"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and 'id="history"' in body and "<html" not in body
    assert "X-Geosignal-Fragment" in fragment.headers["Vary"]
