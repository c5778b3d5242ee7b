"""The workflow, tested from its one table (:data:`geosignal.workflow.TRANSITIONS`).

Every status × target × persona goes through ``POST /api/v1/reports/<id>/transitions`` on a
real report of Charleroi in that status (brought there through real transitions). The
expected answer is derived from the table alone:

- anonymous → 401; the representative of another commune → 404 (a report it may not read
  is not revealed);
- no move from the status to the target → 409 ``invalid_transition``;
- the move exists but not for the persona's role → 403 ``forbidden``;
- the move needs a text and none is sent → 422 ``reason_required`` (then, with the text, 200);
- otherwise 200, the new status in the Feature, a new ETag, and one audit event.

A status added to the vocabulary without transitions, labels or colour fails here.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text

from geosignal import policy, vocab, workflow
from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import User
from geosignal.services import reports as reports_service
from geosignal.services import workflow as workflow_service
from geosignal.services.intake import ReportInput
from tests.conftest import CHARLEROI, make_account
from tests.factories import CHARLEROI_LAMBERT72, square_lambert

CHATELET = "52012"
PERSONAS = ("anonymous", "representative_charleroi", "representative_chatelet", "referent", "admin")
ROLE_OF = {"representative_charleroi": "representative", "referent": "referent", "admin": "admin"}

_counter = itertools.count()


def expected(status: str, target: str, persona: str, with_text: bool) -> tuple[int, str | None]:
    """The (HTTP status, error code) the table promises for this case."""
    if persona == "anonymous":
        return 401, "unauthorized"
    if persona == "representative_chatelet":
        return 404, "not_found"
    move = workflow.find(status, target)
    if move is None:
        return 409, "invalid_transition"
    if ROLE_OF[persona] not in move.roles:
        return 403, "forbidden"
    if move.text and not with_text:
        return 422, "reason_required"
    return 200, None


CASES = [(s, t, p) for s in vocab.STATUSES for t in vocab.STATUSES if s != t for p in PERSONAS]


# ---- the table itself -----------------------------------------------------------------

def test_every_status_has_rules_labels_and_colour() -> None:
    for status in vocab.STATUSES:
        assert vocab.STATUS_TYPES[status] in ("open", "closed")
        assert vocab.LABELS_FR[status] != status
        assert status in vocab.STATUS_COLOURS
        # reached by a transition, or a status a report is created in
        assert status in workflow.INITIAL_STATUSES or workflow.sources_of(status), f"{status}: no way in"
        # an open status has a way out for somebody
        if vocab.STATUS_TYPES[status] == "open":
            assert workflow.from_status(status), f"{status} is open but nobody can move it on"


def test_status_colours_read_white_text_at_4_5_to_1() -> None:
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for status, colour in vocab.STATUS_COLOURS.items():
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, status


def test_the_issue_s_workflow_is_in_the_table() -> None:
    moves = {(t.source, t.target): (t.action, set(t.roles), t.text) for t in workflow.TRANSITIONS}
    assert moves[("draft", "submitted")] == ("submit", {"representative", "admin"}, None)
    assert moves[("submitted", "validated")] == ("validate", {"referent", "admin"}, None)
    assert moves[("submitted", "rejected")] == ("reject", {"referent", "admin"}, "reason")
    assert moves[("submitted", "needs_info")] == ("ask", {"referent", "admin"}, "question")
    assert moves[("needs_info", "submitted")] == ("answer", {"representative", "admin"}, "answer")
    assert moves[("validated", "transmitted")] == ("transmit", {"referent", "admin"}, None)
    assert moves[("transmitted", "resolved")] == ("resolve", {"referent", "admin"}, "note")
    assert moves[("transmitted", "not_resolved")] == ("mark_not_resolved", {"referent", "admin"}, "note")
    # withdrawn by the commune while not yet transmitted, and only then
    assert {s for s, t in moves if t == "withdrawn"} == {"draft", "submitted", "needs_info", "validated"}
    assert all(moves[(s, "withdrawn")][1] == {"representative", "admin"} for s in workflow.WITHDRAWABLE_STATUSES)
    assert all(t.confirm for t in workflow.TRANSITIONS if t.action in ("withdraw", "reject"))


def test_counted_statuses() -> None:
    from geosignal.services.aggregation import COUNTED_STATUSES

    assert set(COUNTED_STATUSES) == {"submitted", "needs_info", "validated", "transmitted", "not_resolved"}
    assert set(COUNTED_STATUSES) <= set(vocab.STATUSES)


def test_path_to_walks_the_table() -> None:
    assert [t.action for t in workflow_service.path_to("submitted", "resolved", "referent")] == \
        ["validate", "transmit", "resolve"]
    assert [t.action for t in workflow_service.path_to("draft", "withdrawn", "representative")] == ["withdraw"]


# ---- every case through the API --------------------------------------------------------

def _new_report(db, admin: User, status: str) -> str:  # noqa: ANN001
    """A Charleroi report in ``status``, brought there through real transitions."""
    x, y = CHARLEROI_LAMBERT72
    k = next(_counter)
    geom = reproject(square_lambert(x + 80 * (k % 25), y + 80 * (k // 25 % 25), 50.0), LAMBERT72, WGS84)
    initial = "draft" if status == "draft" else "submitted"
    feature, created = reports_service.create_report(
        db, admin, ReportInput(geom, {"network": "mobile", "technologies": ["4G"], "operators": ["Proximus"],
                                      "description": f"Cas {k}"}), status=initial)
    assert created
    workflow_service.move_along(db, feature["id"], status, admin)
    db.commit()
    return feature["id"]


@pytest.fixture
def world(client, db, fresh_limits):  # noqa: ANN001, ANN201
    accounts = {
        "representative_charleroi": make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI),
        "representative_chatelet": make_account(client, db, "echevin@chatelet.be", "representative", CHATELET),
        "referent": make_account(client, db, "referent@igretec.com", "referent"),
        "admin": make_account(client, db, "admin@igretec.com", "admin"),
    }
    admin = db.query(User).filter_by(email="admin@igretec.com").one()
    return accounts, admin


def _post(client, accounts, persona: str, rid: str, body: dict):  # noqa: ANN001, ANN202
    headers = accounts[persona].headers if persona != "anonymous" else {}
    return client.post(f"/api/v1/reports/{rid}/transitions", json=body, headers=headers)


@pytest.mark.parametrize("status", vocab.STATUSES)
def test_every_transition_for_every_role(client, db, world, status: str) -> None:  # noqa: ANN001
    accounts, admin = world
    shared = _new_report(db, admin, status)  # refusals change nothing: one report serves them all
    checked = 0
    for target, persona in itertools.product(vocab.STATUSES, PERSONAS):
        if target == status:
            continue
        move = workflow.find(status, target)
        tries = [False, True] if move is not None and move.text else [False]
        for with_text in tries:
            code, error = expected(status, target, persona, with_text)
            rid = _new_report(db, admin, status) if code == 200 else shared
            body = {"to": target, **({"reason": "Texte de la transition"} if with_text else {})}
            response = _post(client, accounts, persona, rid, body)
            where = f"{status} → {target} as {persona} (text: {with_text})"
            assert response.status_code == code, (where, response.get_json())
            checked += 1
            if code == 200:
                got = response.get_json()
                assert got["properties"]["status"] == target, where
                assert response.headers["ETag"] == f'"{got["properties"]["revision"]}"'
                events = db.execute(text(
                    "SELECT action, from_status, to_status, reason, actor_role FROM audit_events "
                    "WHERE report_id = :r ORDER BY id DESC LIMIT 1"), {"r": rid}).one()
                assert tuple(events) == (move.action, status, target,
                                         "Texte de la transition" if with_text else None, ROLE_OF[persona]), where
            else:
                assert response.get_json()["code"] == error, where
    still = db.execute(text("SELECT status FROM reports WHERE id = :r"), {"r": shared}).scalar()
    assert still == status  # no refusal moved the shared report
    assert checked >= (len(vocab.STATUSES) - 1) * len(PERSONAS)


def test_cases_cover_the_whole_product() -> None:
    """The generated cases are exactly status × target × persona (a new status adds its own)."""
    assert len(CASES) == len(vocab.STATUSES) * (len(vocab.STATUSES) - 1) * len(PERSONAS)
    allowed = {(s, t, p) for s, t, p in CASES if expected(s, t, p, True)[0] == 200}
    from_table = {(t.source, t.target, p) for t in workflow.TRANSITIONS for p, r in ROLE_OF.items()
                  if r in t.roles}
    assert allowed == from_table


def test_policy_derives_the_rights_from_the_table(db) -> None:  # noqa: ANN001
    rep = User(email="a@charleroi.be", role="representative", commune_nis=CHARLEROI)
    other = User(email="b@chatelet.be", role="representative", commune_nis=CHATELET)
    referent = User(email="r@igretec.com", role="referent")
    for t in workflow.TRANSITIONS:
        assert policy.may_transition(rep, CHARLEROI, t.source, t.target) == ("representative" in t.roles)
        assert not policy.may_transition(other, CHARLEROI, t.source, t.target)
        assert policy.may_transition(referent, CHARLEROI, t.source, t.target) == ("referent" in t.roles)
    assert [t.target for t in policy.allowed_transitions(referent, CHARLEROI, "submitted")] == \
        ["validated", "rejected", "needs_info"]
    assert [t.target for t in policy.allowed_transitions(rep, CHARLEROI, "submitted")] == ["withdrawn"]


def test_patch_status_is_an_alias_with_the_same_rules(client, db, world) -> None:  # noqa: ANN001
    accounts, admin = world
    rid = _new_report(db, admin, "submitted")
    ref = accounts["referent"]
    response = ref.patch(f"/api/v1/reports/{rid}", json={"status": "rejected"})
    assert response.status_code == 422 and response.get_json()["code"] == "reason_required"
    response = ref.patch(f"/api/v1/reports/{rid}", json={"status": "draft"})
    assert response.status_code == 409 and response.get_json()["code"] == "invalid_transition"
    response = accounts["representative_charleroi"].patch(f"/api/v1/reports/{rid}", json={"status": "validated"})
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"
    response = ref.patch(f"/api/v1/reports/{rid}", json={"status": "rejected", "reason": "Hors territoire"})
    assert response.status_code == 200 and response.get_json()["properties"]["status"] == "rejected"
    history = ref.get(f"/api/v1/reports/{rid}/history").get_json()["history"]
    assert [(e["action"], e["from"], e["to"], e["reason"], e["actor"]) for e in history] == [
        ("create", None, "submitted", None, "admin"),
        ("reject", "submitted", "rejected", "Hors territoire", "referent"),
    ]


def test_transition_honours_if_match(client, db, world) -> None:  # noqa: ANN001
    accounts, admin = world
    rid = _new_report(db, admin, "submitted")
    ref = accounts["referent"]
    tag = ref.get(f"/api/v1/reports/{rid}").headers["ETag"]
    response = ref.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"},
                        headers={"If-Match": '"1"'})
    assert response.status_code == 412 and response.get_json()["code"] == "precondition_failed"
    assert db.execute(text("SELECT status FROM reports WHERE id = :r"), {"r": rid}).scalar() == "submitted"
    response = ref.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"}, headers={"If-Match": tag})
    assert response.status_code == 200 and response.headers["ETag"] != tag


def test_bad_bodies_are_coded_4xx(client, db, world) -> None:  # noqa: ANN001
    accounts, admin = world
    rid = _new_report(db, admin, "submitted")
    ref = accounts["referent"]
    cases = [({"to": "paused"}, 400, "invalid_request"), ({}, 400, "invalid_request"),
             ({"to": "validated", "extra": 1}, 400, "invalid_request"),
             ({"to": "rejected", "reason": 5}, 422, "invalid_attribute"),
             ({"to": "rejected", "reason": "   "}, 422, "reason_required"),
             ({"to": "rejected", "reason": "x" * 5000}, 422, "invalid_attribute")]
    for body, code, error in cases:
        response = ref.post(f"/api/v1/reports/{rid}/transitions", json=body)
        assert (response.status_code, response.get_json()["code"]) == (code, error), body
    response = ref.post(f"/api/v1/reports/{rid}/transitions", data="[", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_json"
    response = ref.post("/api/v1/reports/not-a-uuid/transitions", json={"to": "validated"})
    assert response.status_code == 404


def test_transition_many_moves_set_wise_and_lists_refusals(db, world) -> None:  # noqa: ANN001
    accounts, admin = world
    referent = db.query(User).filter_by(email="referent@igretec.com").one()
    submitted = [_new_report(db, admin, "submitted") for _ in range(5)]
    draft = _new_report(db, admin, "draft")
    statements = []

    from sqlalchemy import event

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        statements.append(statement)

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = workflow_service.transition_many(db, [*submitted, draft, "00000000-0000-0000-0000-000000000000"],
                                                  "validated", referent, details={"batch": "test"})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result["moved"] == sorted(submitted)
    assert sorted((r["code"], r["status"]) for r in result["refused"]) == [
        ("invalid_transition", "draft"), ("not_found", None)]
    assert len([s for s in statements if "UPDATE reports" in s]) == 1  # one UPDATE for the five
    statements = [s for s in statements if not s.startswith("SAVEPOINT")]  # the test's own transaction
    # the communes lock (shared: a load of communes re-homes reports), the rows' lock query, the
    # move + journal statement, the e-mails (outbox + job)
    assert len(statements) == 4 and statements[0] == "SELECT pg_advisory_xact_lock_shared(%(k)s)"
    assert "notification_outbox" in statements[3]
    rows = db.execute(text("SELECT action, from_status, to_status, details FROM audit_events "
                           "WHERE report_id = ANY(:ids) AND action = 'validate'"),
                      {"ids": submitted}).all()
    assert len(rows) == 5 and all(tuple(r) == ("validate", "submitted", "validated", {"batch": "test"}) for r in rows)
    more = [_new_report(db, admin, "submitted") for _ in range(2)]
    with pytest.raises(GeosignalError) as info:
        workflow_service.transition_many(db, more, "rejected", referent)
    assert info.value.code == "reason_required"
