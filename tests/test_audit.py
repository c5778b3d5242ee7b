"""The audit trail: every kind of change recorded, readable per report and as the admins'
journal, and append-only in PostgreSQL itself (the application's own connection is refused)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import CHARLEROI, csrf_token, make_account, owner_only
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

X, Y = CHARLEROI_LAMBERT72


def _zone(dx: float = 0.0) -> dict:
    return to_geojson_4326(square_lambert(X + dx, Y, 200.0))


def _events(db, rid: str) -> list[tuple]:  # noqa: ANN001
    return [tuple(r) for r in db.execute(text(
        "SELECT action, actor_role, from_status, to_status, reason FROM audit_events WHERE report_id = :r ORDER BY id"),
        {"r": rid})]


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET reason = 'effacé'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
])
def test_the_database_refuses_to_alter_the_journal(db, representative, statement: str) -> None:  # noqa: ANN001
    rid = representative.post("/api/v1/reports", json=feature(_zone())).get_json()["id"]
    before = db.execute(text("SELECT count(*) FROM audit_events")).scalar()
    assert before >= 1
    savepoint = db.begin_nested()
    with pytest.raises(DBAPIError) as info:
        db.execute(text(statement))  # the application's own role, on its own connection
    savepoint.rollback()
    message = str(info.value.orig)
    assert "permission denied" in message or "append-only" in message, message
    assert db.execute(text("SELECT count(*) FROM audit_events")).scalar() == before
    assert _events(db, rid)[0][0] == "create"


@owner_only
def test_the_trigger_refuses_even_with_the_privileges_back(db) -> None:  # noqa: ANN001
    """The privileges are revoked, and behind them a trigger refuses whoever asks: the owner
    granting itself UPDATE back still cannot change a row."""
    db.execute(text("INSERT INTO audit_events (action, details) VALUES ('export', '{\"run_id\": \"x\"}')"))
    savepoint = db.begin_nested()
    db.execute(text("GRANT UPDATE, DELETE ON audit_events TO CURRENT_USER"))
    for statement in ("UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events"):
        inner = db.begin_nested()
        with pytest.raises(DBAPIError) as info:
            db.execute(text(statement))
        inner.rollback()
        assert "append-only" in str(info.value.orig)
    savepoint.rollback()


def test_privileges_are_revoked_from_public_and_the_app_role(db) -> None:  # noqa: ANN001
    rows = db.execute(text("""
        SELECT privilege_type FROM information_schema.role_table_grants
        WHERE table_name = 'audit_events' AND grantee IN (current_user, 'PUBLIC')""")).scalars().all()
    assert "INSERT" in rows and "SELECT" in rows
    assert not {"UPDATE", "DELETE", "TRUNCATE"} & set(rows)


def test_each_kind_of_change_is_recorded(db, client, representative, referent) -> None:  # noqa: ANN001
    # creation (API), edit, transitions
    rid = representative.post("/api/v1/reports", json=feature(_zone(), description="Cave")).get_json()["id"]
    tag = representative.get(f"/api/v1/reports/{rid}").headers["ETag"]
    assert representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Grenier"}},
                                headers={"If-Match": tag}).status_code == 200
    assert referent.post(f"/api/v1/reports/{rid}/transitions",
                         json={"to": "needs_info", "reason": "Quel étage ?"}).status_code == 200
    assert representative.post(f"/api/v1/reports/{rid}/transitions",
                               json={"to": "submitted", "reason": "Le deuxième"}).status_code == 200
    assert referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"}).status_code == 200
    assert _events(db, rid) == [
        ("create", "representative", None, "submitted", None),
        ("edit", "representative", None, None, None),
        ("ask", "referent", "submitted", "needs_info", "Quel étage ?"),
        ("answer", "representative", "needs_info", "submitted", "Le deuxième"),
        ("validate", "referent", "submitted", "validated", None),
    ]
    edit = db.execute(text("SELECT before, after FROM audit_events WHERE report_id = :r AND action = 'edit'"),
                      {"r": rid}).one()
    assert (edit.before, edit.after) == ({"description": "Cave"}, {"description": "Grenier"})
    # the history names the property changed, not its values (the old text may be gone on purpose)
    edited = next(e for e in referent.get(f"/api/v1/reports/{rid}/history").get_json()["history"]
                  if e["action"] == "edit")
    assert edited["fields"] == ["description"] and "Cave" not in str(edited)
    admin = make_account(client, db, "admin@igretec.com", "admin")
    admin.login()
    journal = " ".join(client.get("/admin/journal?action=edit").get_data(as_text=True).split())
    assert "Champs modifiés : Description" in journal and "Champs modifiés : description" not in journal
    # an export run: one event with its run id, shown in the report's history
    response = referent.get("/api/v1/exports/dwconnect")
    assert response.status_code == 200 and rid in response.get_data(as_text=True)  # streamed: read to the end
    run_id = response.headers["X-Export-Run"]
    exports = db.execute(text("SELECT actor_role, details FROM audit_events WHERE action = 'export' "
                              "AND details->>'run_id' = :run"), {"run": run_id}).all()
    assert len(exports) == 1 and exports[0].actor_role == "referent"
    assert exports[0].details["run_id"] == run_id
    history = referent.get(f"/api/v1/reports/{rid}/history").get_json()
    assert history["reference"].startswith("CM-")
    assert [e["action"] for e in history["history"]] == ["create", "edit", "ask", "answer", "validate", "export"]
    assert history["history"][-1]["details"]["run_id"] == run_id
    first = history["history"][0]
    assert set(first) >= {"at", "actor", "action", "from", "to", "reason"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+0[12]:00", first["at"])


def test_an_import_records_each_creation_in_one_statement(db, representative) -> None:  # noqa: ANN001
    rows = "\n".join(f"{4.440 + i * 0.001:.4f},{50.410:.4f},mobile" for i in range(12))
    data = ("longitude,latitude,network\n" + rows + "\n").encode()
    response = representative.post("/api/v1/imports", data={"file": (__import__("io").BytesIO(data), "zones.csv")},
                                   content_type="multipart/form-data")
    assert response.status_code in (200, 201), response.get_json()
    created = db.execute(text("""
        SELECT count(*), count(DISTINCT e.report_id), min(e.actor_role), min(e.details->>'source')
        FROM audit_events e JOIN reports r ON r.id = e.report_id JOIN users u ON u.id = e.actor_id
        WHERE e.action = 'create' AND u.email = 'echevin@charleroi.be'""")).one()
    assert tuple(created) == (12, 12, "representative", "import")


def test_history_names_people_only_for_the_same_commune_and_the_referent(db, client, representative,  # noqa: ANN001
                                                                        referent) -> None:
    rid = representative.post("/api/v1/reports", json=feature(_zone())).get_json()["id"]
    referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"})
    admin = make_account(client, db, "admin@igretec.com", "admin")
    seen_by_rep = representative.get(f"/api/v1/reports/{rid}/history").get_json()["history"]
    assert [e.get("actor_name") for e in seen_by_rep] == ["echevin@charleroi.be", "referent@igretec.com"]
    seen_by_admin = admin.get(f"/api/v1/reports/{rid}/history").get_json()["history"]
    assert all(e["actor_name"] for e in seen_by_admin)
    other = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    assert other.get(f"/api/v1/reports/{rid}/history").status_code == 404


def test_the_journal_api_and_page_are_for_the_referent_and_admins_with_filters(db, client, representative, referent) -> None:  # noqa: ANN001, E501
    rid = representative.post("/api/v1/reports", json=feature(_zone())).get_json()["id"]
    representative.post("/api/v1/reports", json=feature(_zone(dx=600)))
    referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "rejected", "reason": "Doublon"})
    admin = make_account(client, db, "admin@igretec.com", "admin")
    assert representative.get("/api/v1/audit").status_code == 403
    # the referent reads it as admins do (every report's history with its names is hers already)
    assert referent.get("/api/v1/audit?limit=500").get_json() == admin.get("/api/v1/audit?limit=500").get_json()
    assert client.get("/api/v1/audit", headers={}).status_code == 401
    everything = admin.get("/api/v1/audit").get_json()["events"]
    # newest first (make_account's tokens, made at the terminal, are journalled too)
    assert [e["action"] for e in everything if e["action"] != "token_create"][:3] == ["reject", "create", "create"]
    rejections = admin.get("/api/v1/audit?action=reject").get_json()["events"]
    assert [(e["reason"], e["actor_name"], e["commune_nis"]) for e in rejections] == [
        ("Doublon", "referent@igretec.com", CHARLEROI)]
    by_user = admin.get("/api/v1/audit?user=ECHEVIN@charleroi.be").get_json()["events"]
    assert {e["action"] for e in by_user} == {"create"} and len(by_user) == 2
    mine = {rid, *(e["report_id"] for e in by_user)}
    assert not mine & {e["report_id"] for e in admin.get("/api/v1/audit?commune=52012&limit=500").get_json()["events"]}
    assert rid in {e["report_id"] for e in admin.get(f"/api/v1/audit?commune={CHARLEROI}").get_json()["events"]}
    assert admin.get("/api/v1/audit?from=2000-01-01&to=2000-12-31").get_json()["events"] == []
    page1 = admin.get("/api/v1/audit?limit=2").get_json()
    assert len(page1["events"]) == 2 and page1["next_before_id"]
    page2 = admin.get(f"/api/v1/audit?limit=2&before={page1['next_before_id']}").get_json()
    assert page2["events"][0]["id"] < page1["events"][-1]["id"]
    assert admin.get("/api/v1/audit?before=0").get_json()["events"] == []  # nothing is before event 0
    bad = admin.get("/api/v1/audit?action=delete")
    assert bad.status_code == 400 and bad.get_json()["where"] == "action"
    assert admin.get("/api/v1/audit?from=hier").status_code == 400
    # the page
    admin.login()
    html = client.get("/admin/journal?action=reject").get_data(as_text=True)
    assert "Doublon" in html and 'data-action="reject"' in html and 'data-action="create"' not in html
    assert csrf_token(client.get("/signalements").get_data(as_text=True))
