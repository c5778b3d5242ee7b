"""What an incremental export for DWconnect carries (trial "life of reports", fault 3): the
reports the referent validated and their sequels, new since the last transmitted export, plus
the removals — reports a run marked as transmitted carried and that were withdrawn since —, and
never a report nobody validated (submitted, withdrawn before its validation). The page leads to
it, ``status=all`` with "only what is new" is refused, and « Inclus dans un export DWconnect »
appears only in the history of a report carried as forwarded or as a removal.

Every move goes through the workflow (as the trial's): the journal is what says a report was
validated once."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from geosignal import workflow
from geosignal.models import User
from geosignal.services import audit
from geosignal.services.users import create_user
from geosignal.services.workflow import transition
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_queue import add_report

EXPORT = "/api/v1/exports/dwconnect"
X0, Y0 = CHARLEROI_LAMBERT72


def carried(response) -> list[tuple[str, str]]:  # noqa: ANN001
    """(id, status) of the Features of an export, sorted."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return sorted((f["id"], f["properties"]["status"]) for f in json.loads(response.get_data())["features"])


def export_events(db, report_id: str) -> list[str]:  # noqa: ANN001
    """The run ids of the « Inclus dans un export DWconnect » lines of a report's history."""
    return [e["details"]["run_id"] for e in audit.history(db, report_id) if e["action"] == "export"]


@pytest.fixture
def admin(db) -> User:  # noqa: ANN001
    user = create_user(db, "dw-admin@igretec.com", "admin", None, "correct horse battery")
    db.commit()
    return user


def file(db, admin: User, n: int) -> str:  # noqa: ANN001
    rid = add_report(db, admin, square_lambert(X0 + 400 * n, Y0, 200), created="2026-03-01")
    db.commit()
    return rid


def test_forwardable_statuses_come_from_the_workflow_table() -> None:
    assert workflow.FORWARDABLE_STATUSES == ("validated", "transmitted", "resolved", "not_resolved")


def test_incremental_export_for_dwconnect_carries_validated_reports_and_removals_only(
        app, db, admin, referent, tmp_path: Path) -> None:  # noqa: ANN001
    submitted = file(db, admin, 0)  # never decided
    withdrawn_early = file(db, admin, 1)  # withdrawn before anybody validated it
    kept = file(db, admin, 2)  # validated, sent
    withdrawn_sent = file(db, admin, 3)  # validated, carried by the run, withdrawn before its marking
    withdrawn_unsent = file(db, admin, 4)  # validated after that run, withdrawn: DWconnect never had it
    transition(db, withdrawn_early, "withdrawn", admin)
    transition(db, kept, "validated", admin)
    transition(db, withdrawn_sent, "validated", admin)
    db.commit()

    # the page's choice and the default with since=last_transmitted: the validated ones only
    first = referent.get(f"{EXPORT}?since=last_transmitted&status=dwconnect")
    assert carried(first) == sorted([(kept, "validated"), (withdrawn_sent, "validated")])
    run_id = first.headers["X-Export-Run"]
    by_default = referent.get(f"{EXPORT}?since=last_transmitted")
    assert carried(by_default) == carried(first)
    # (the trial's choice, every status with only what is new: refused, nothing recorded)
    runs = db.scalar(text("SELECT count(*) FROM export_runs"))
    refused = referent.get(f"{EXPORT}?since=last_transmitted&status=all")
    assert refused.status_code == 400
    assert (refused.get_json()["where"], refused.get_json()["kind"]) == ("status", "not_for_dwconnect")
    assert db.scalar(text("SELECT count(*) FROM export_runs")) == runs

    transition(db, withdrawn_sent, "withdrawn", admin)
    db.commit()
    marked = referent.post(f"/api/v1/exports/runs/{run_id}/transmitted").get_json()
    assert (marked["moved"], marked["not_moved"]) == (1, 1)
    transition(db, withdrawn_unsent, "validated", admin)
    transition(db, withdrawn_unsent, "withdrawn", admin)
    db.commit()

    # next: the removal of what DWconnect holds, in its new status; nothing else
    second = referent.get(f"{EXPORT}?since=last_transmitted&status=dwconnect")
    assert carried(second) == [(withdrawn_sent, "withdrawn")]
    second_id = second.headers["X-Export-Run"]
    run = referent.get(f"/api/v1/exports/runs/{second_id}").get_json()
    revision = db.scalar(text("SELECT change_seq FROM reports WHERE id = :id"), {"id": withdrawn_sent})
    assert run["reports"] == [{"id": withdrawn_sent, "revision": revision}]
    assert (run["feature_count"], run["filters"]["status"], run["filters"]["since_last_transmitted"]) == \
        (1, "dwconnect", run_id)
    # the CLI's incremental export says the same (dwconnect is its default with --since-last-transmitted)
    out = tmp_path / "next.geojson"
    made = app.test_cli_runner().invoke(args=["export", "-o", str(out), "--since-last-transmitted", "--no-record"])
    assert made.exit_code == 0, made.output
    assert sorted((f["id"], f["properties"]["status"]) for f in json.loads(out.read_bytes())["features"]) == \
        [(withdrawn_sent, "withdrawn")]
    # validated only: no removal
    assert carried(referent.get(f"{EXPORT}?since=last_transmitted&status=validated")) == []
    # once that run is marked, the removal is not sent again
    assert referent.post(f"/api/v1/exports/runs/{second_id}/transmitted").get_json()["moved"] == 0
    assert carried(referent.get(f"{EXPORT}?since=last_transmitted")) == []

    # a full export of every status, asked for explicitly, is still given
    full = referent.get(f"{EXPORT}?status=all")
    assert carried(full) == sorted([(submitted, "submitted"), (withdrawn_early, "withdrawn"),
                                    (kept, "transmitted"), (withdrawn_sent, "withdrawn"),
                                    (withdrawn_unsent, "withdrawn")])
    full_id = full.headers["X-Export-Run"]
    # and a full export for DWconnect is the forwardable ones, without removals
    assert carried(referent.get(f"{EXPORT}?status=dwconnect")) == [(kept, "transmitted")]

    # « Inclus dans un export DWconnect »: only where the report went as forwarded or as a removal
    assert export_events(db, submitted) == []
    assert export_events(db, withdrawn_early) == []
    assert export_events(db, withdrawn_unsent) == []
    # (the run of the default too, which carried it validated; not the full export of every status)
    assert export_events(db, withdrawn_sent) == [run_id, by_default.headers["X-Export-Run"], second_id]
    kept_runs = export_events(db, kept)
    assert kept_runs[0] == run_id and full_id in kept_runs


def test_a_report_carried_by_an_all_status_export_before_its_validation_has_no_export_line(
        db, admin, referent) -> None:  # noqa: ANN001
    rid = file(db, admin, 0)
    before = referent.get(f"{EXPORT}?status=all")
    assert carried(before) == [(rid, "submitted")]
    transition(db, rid, "validated", admin)
    db.commit()
    after = referent.get(f"{EXPORT}?status=all")
    assert carried(after) == [(rid, "validated")]
    assert export_events(db, rid) == [after.headers["X-Export-Run"]]


def test_the_exports_page_leads_to_the_dwconnect_export(client, referent) -> None:  # noqa: ANN001
    referent.login()
    page = client.get("/exports").get_data(as_text=True)
    assert '<option value="dwconnect" selected>' in page
    assert "Tous les statuts » reprend aussi les signalements que vous n'avez pas validés" in page.replace(
        "&#39;", "'")
    assert "choisissez « Tous les statuts »" not in page
    refused = client.get("/exports?format=geojson&status=all&since=last_transmitted")
    assert refused.status_code == 400
    assert 'data-code="invalid_request"' in refused.get_data(as_text=True)
    en = client.get("/exports?format=geojson&status=all&since=last_transmitted",
                    headers={"Accept-Language": "en"})
    assert en.status_code == 400 and "Only what is new" in en.get_data(as_text=True).replace("&#39;", "'")


def test_a_run_not_yet_sent_names_the_reports_withdrawn_since(app, db, admin, referent, client) -> None:  # noqa: ANN001
    """The life trial (6): the referent learnt only by e-mail that a report her pending export
    carried had been withdrawn. The exports page now says it beside that run, until it is
    marked as sent; a report withdrawn before the run (carried as a removal) is not named."""
    first, second = file(db, admin, 0), file(db, admin, 1)
    for rid in (first, second):
        transition(db, rid, "validated", admin)
    db.commit()
    made = referent.get(f"{EXPORT}?status=dwconnect")
    assert carried(made) == sorted([(first, "validated"), (second, "validated")])  # (read whole: the run is recorded)
    run_id = made.headers["X-Export-Run"]
    transition(db, second, "withdrawn", admin)
    db.commit()
    reference = db.scalar(text("SELECT reference FROM reports WHERE id = :id"), {"id": second})
    referent.login()
    page = client.get("/exports").get_data(as_text=True)
    notice = re.search(rf'id="withdrawn-{run_id}">(.*?)</p>', page, re.S)
    assert notice and " ".join(html.unescape(notice.group(1)).split()) == (
        f"Depuis cet export, 1 signalement qu'il contient a été retiré par sa commune : {reference}. Le fichier le "
        "porte encore tel qu'il était : faites un nouvel export avant de l'envoyer, ou le prochain export "
        "« seulement ce qui est nouveau » le retirera de DWconnect.")
    assert referent.post(f"/api/v1/exports/runs/{run_id}/transmitted").status_code == 200
    assert f'id="withdrawn-{run_id}"' not in client.get("/exports").get_data(as_text=True)
    # the next run carries it as a removal: nothing withdrawn since that one
    removal = referent.get(f"{EXPORT}?since=last_transmitted&status=dwconnect")
    assert carried(removal) == [(second, "withdrawn")]
    assert f'id="withdrawn-{removal.headers["X-Export-Run"]}"' not in client.get("/exports").get_data(as_text=True)
