"""The validation queue (service and ``GET /api/v1/queue``) on a known dataset of six reports:
each filter with exact counts, French full-text search, stable keyset paging, unknown commune
422, and the API's JSON equal to the service's page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import User
from geosignal.services import queue as queue_service
from geosignal.services import reports as reports_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import CHARLEROI
from tests.factories import CHARLEROI_LAMBERT72, square_lambert

BRUSSELS = ZoneInfo("Europe/Brussels")
CHATELET = "52012"
X0, Y0 = CHARLEROI_LAMBERT72


def _brussels(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=BRUSSELS)


def add_report(db, user, geom_31370, *, status="submitted", created, observed=None, **props) -> str:  # noqa: ANN001, ANN003
    """Store a report through the service, then set its status and dates (the dataset's)."""
    properties = {"network": "mobile", "technologies": ["4G"], "operators": ["Proximus"], **props}
    feature, _ = reports_service.create_report(db, user, ReportInput(reproject(geom_31370, LAMBERT72, WGS84),
                                                                     properties))
    db.execute(text("UPDATE reports SET status = :s, created_at = :c, observed_at = :o WHERE id = :id"),
               {"s": status, "c": _brussels(created), "o": _brussels(observed) if observed else None,
                "id": feature["id"]})
    return feature["id"]


def chatelet_xy(db) -> tuple[float, float]:  # noqa: ANN001
    return tuple(db.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(boundary), 31370) AS p "
        "FROM communes WHERE nis_code = :n) q"), {"n": CHATELET}).one())


@pytest.fixture
def dataset(db) -> dict[str, str]:  # noqa: ANN001
    """Six reports: four submitted (Charleroi 1, 2; Châtelet 4, 6), one validated (3), one
    rejected (5); names r1…r6 in insertion order."""
    admin = create_user(db, "queue-admin@igretec.com", "admin", None, "correct horse battery")
    db.flush()
    cx, cy = chatelet_xy(db)
    ids = {
        "r1": add_report(db, admin, square_lambert(X0, Y0, 200), created="2026-01-15", observed="2026-01-10",
                         description="Pas de réseau dans la cave de l'école"),
        "r2": add_report(db, admin, square_lambert(X0 + 500, Y0, 200), created="2026-02-01",
                         operators=["Orange"], description="Antennes trop éloignées du village"),
        "r3": add_report(db, admin, square_lambert(X0 + 1000, Y0, 200), status="validated", created="2026-03-01",
                         observed="2026-02-20", network="fixed", technologies=["fibre"], operators=["VOO"],
                         description="Fibre absente rue de la Station"),
        "r4": add_report(db, admin, square_lambert(cx, cy, 200), created="2026-01-20", observed="2025-12-01",
                         description="Signal faible près de l'antenne"),
        "r5": add_report(db, admin, square_lambert(cx + 400, cy, 200), status="rejected", created="2026-02-10",
                         network="fixed", technologies=["DSL"], description="DSL lent"),
        "r6": add_report(db, admin, square_lambert(cx + 800, cy, 10).centroid, created="2026-03-05",
                         operators=["Proximus", "Orange"], description="Coupures fréquentes le soir"),
    }
    db.commit()
    return ids


def names(page: queue_service.QueuePage, ids: dict[str, str]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[item["id"]] for item in page.items]


def read(db, ids, **args) -> tuple[list[str], int]:  # noqa: ANN001, ANN003
    filters, limit, cursor = queue_service.parse_queue_args(db, args)
    page = queue_service.read_queue(db, filters, limit=limit, cursor=cursor)
    return names(page, ids), page.total


@pytest.mark.parametrize(("args", "expected"), [
    ({}, ["r1", "r2", "r4", "r6"]),  # default: submitted, oldest first
    ({"status": "all"}, ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ({"status": "validated"}, ["r3"]),
    ({"status": "validated,rejected"}, ["r3", "r5"]),
    ({"commune": CHARLEROI}, ["r1", "r2"]),
    ({"commune": CHATELET, "status": "all"}, ["r4", "r5", "r6"]),
    ({"network": "fixed"}, []),
    ({"network": "fixed", "status": "all"}, ["r3", "r5"]),
    ({"operator": "Orange"}, ["r2", "r6"]),
    ({"operator": "VOO", "status": "all"}, ["r3"]),
    ({"from": "2026-01-16", "to": "2026-02-28"}, ["r2", "r4"]),  # filed (default period)
    ({"period": "created", "to": "2026-01-15"}, ["r1"]),  # inclusive day, Brussels time
    ({"period": "observed", "from": "2026-01-01", "to": "2026-01-31"}, ["r1"]),
    ({"period": "observed", "status": "all", "from": "2026-02-01"}, ["r3"]),  # no date observed: no match
    ({"q": "antenne"}, ["r2", "r4"]),  # French stemming: "Antennes" too
    ({"q": "réseau école"}, ["r1"]),
    ({"q": '"cave de l\'école"'}, ["r1"]),
    ({"q": "antenne -village"}, ["r4"]),
    ({"q": "fibre"}, []),  # validated: not in the default queue
    ({"q": "fibre", "status": "all"}, ["r3"]),
    ({"q": "antenne", "commune": CHATELET, "operator": "Proximus"}, ["r4"]),
])
def test_filters_exact(db, dataset, args, expected) -> None:  # noqa: ANN001
    shown, total = read(db, dataset, **args)
    assert shown == expected
    assert total == len(expected)


def test_items_carry_what_the_cards_show(db, dataset) -> None:  # noqa: ANN001
    page = queue_service.read_queue(db, queue_service.QueueFilters(statuses=("validated",)))
    (item,) = page.items
    assert item["commune_nis"] == CHARLEROI and item["commune_name"] == "Charleroi"
    assert (item["network"], item["technologies"], item["operators"]) == ("fixed", ["fibre"], ["VOO"])
    assert item["geometry_kind"] == "zone"
    assert item["area_m2"] == pytest.approx(40_000, rel=1e-3)  # 200 m × 200 m, EPSG:31370
    assert item["length_m"] is None
    lon, lat = item["location"]  # a point on the square, [lon, lat], 6 decimals
    inside = db.scalar(text("SELECT ST_Intersects(geometry, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
                            "FROM reports WHERE id = :id"), {"lon": lon, "lat": lat, "id": item["id"]})
    assert inside is True and (round(lon, 6), round(lat, 6)) == (lon, lat) and 4.0 < lon < 5.0 and 50.0 < lat < 51.0
    assert item["reported_at"] == "2026-03-01T12:00:00+01:00"
    assert item["observed_at"] == "2026-02-20T12:00:00+01:00"
    point = queue_service.read_queue(db, queue_service.QueueFilters(q="coupures"))
    assert point.items[0]["geometry_kind"] == "point" and point.items[0]["area_m2"] is None


def test_paging_is_stable(db, dataset) -> None:  # noqa: ANN001
    """Keyset paging: validating a report of page 1 and filing a new one between two reads
    neither skips nor repeats a report."""
    first, total = queue_service.read_queue(db, limit=2), 4
    assert names(first, dataset) == ["r1", "r2"] and first.total == total and first.next_cursor
    db.execute(text("UPDATE reports SET status = 'validated' WHERE id = :id"), {"id": dataset["r1"]})
    admin = db.query(User).filter_by(email="queue-admin@igretec.com").one()
    dataset["r7"] = add_report(db, admin, square_lambert(X0 - 600, Y0, 200), created="2026-03-06")
    second = queue_service.read_queue(db, limit=2, cursor=first.next_cursor)
    assert names(second, dataset) == ["r4", "r6"]
    assert second.total == 4  # r1 left, r7 came
    third = queue_service.read_queue(db, limit=2, cursor=second.next_cursor)
    assert names(third, dataset) == ["r7"] and third.next_cursor is None and third.total == 4
    past = queue_service.read_queue(db, limit=2, cursor=queue_service.encode_cursor(10**9))
    assert past.items == [] and past.total == 4 and past.next_cursor is None


def _declare(db, ids, counts: dict[str, tuple]) -> None:  # noqa: ANN001
    for name, (households, businesses) in counts.items():
        db.execute(text("UPDATE reports SET households_affected = :h, businesses_affected = :b WHERE id = :id"),
                   {"h": households, "b": businesses, "id": ids[name]})
    db.commit()


def test_the_most_households_or_businesses_first_then_the_oldest(db, dataset) -> None:  # noqa: ANN001
    """sort=households_affected: the largest count first, undeclared last, insertion order
    among equals; paged by (count, seq) without a skip or a repeat, a count edited meanwhile
    included."""
    _declare(db, dataset, {"r1": (3, None), "r2": (40, 0), "r3": (500, 1), "r4": (3, 7), "r6": (None, 2)})
    assert read(db, dataset, sort="households_affected") == (["r2", "r1", "r4", "r6"], 4)
    assert read(db, dataset, sort="businesses_affected") == (["r4", "r6", "r2", "r1"], 4)
    assert read(db, dataset, sort="households_affected", status="all") == (["r3", "r2", "r1", "r4", "r5", "r6"], 6)
    filters, _, _ = queue_service.parse_queue_args(db, {"sort": "households_affected", "status": "all"})
    assert filters.as_args() == {"status": "all", "sort": "households_affected"}
    pages, cursor = [], None
    while True:
        page = queue_service.read_queue(db, filters, limit=2, cursor=cursor)
        pages.append(names(page, dataset))
        if page.next_cursor is None:
            break
        if len(pages) == 1:  # a report not yet read gets a count above the page's: it was after, it is skipped
            _declare(db, dataset, {"r5": (1000, None)})  # (keyset paging: as on a search engine)
        cursor = page.next_cursor
    assert pages == [["r3", "r2"], ["r1", "r4"], ["r6"]]
    # a cursor of one order is refused in another, with its reason
    first = queue_service.read_queue(db, filters, limit=1)
    with pytest.raises(Exception) as caught:  # noqa: PT011
        queue_service.read_queue(db, queue_service.QueueFilters(), limit=1, cursor=first.next_cursor)
    assert (caught.value.code, caught.value.where) == ("invalid_request", "cursor")
    assert "another order" in str(caught.value)


def test_the_page_offers_the_orders_and_keeps_the_one_chosen(db, dataset, client, referent) -> None:  # noqa: ANN001
    _declare(db, dataset, {"r1": (3, None), "r2": (40, 0)})
    referent.login()
    html = client.get("/validation?sort=households_affected").get_data(as_text=True)
    assert "<option value=\"households_affected\" selected>Ménages touchés : le plus d'abord</option>" in html
    assert "<option value=\"\">les plus anciens d'abord</option>" in html
    assert html.index("Antennes trop éloignées") < html.index("Pas de réseau dans la cave")
    api = referent.get("/api/v1/queue?sort=businesses_affected&limit=1").get_json()
    assert api["filters"] == {"sort": "businesses_affected"} and api["next_cursor"]


@pytest.mark.parametrize(("args", "where"), [
    ({"sort": "newest"}, "sort"), ({"sort": "households_affected", "cursor": "cTE"}, "cursor"),
    ({"status": "nope"}, "status"), ({"network": "wifi"}, "network"), ({"operator": "Base"}, "operator"),
    ({"period": "sent"}, "period"), ({"from": "2026-13-01"}, "from"), ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
    ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "ten"}, "limit"), ({"cursor": "xyz"}, "cursor"),
    ({"q": "x" * 201}, "q"), ({"q": "a\x00b"}, "q"),
])
def test_bad_arguments_are_400_naming_the_parameter(referent, args, where) -> None:  # noqa: ANN001
    response = referent.get("/api/v1/queue", query_string=args)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert (body["code"], body["where"]) == ("invalid_request", where)


def test_unknown_commune_is_422(referent) -> None:  # noqa: ANN001
    response = referent.get("/api/v1/queue?commune=99999")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert (body["code"], body["where"], body["value"]) == ("unknown_commune", "commune", "99999")


def test_api_is_the_service_page(db, dataset, referent, representative) -> None:  # noqa: ANN001
    response = referent.get("/api/v1/queue?limit=3&operator=Proximus")
    assert response.status_code == 200
    doc = response.get_json()
    filters, limit, cursor = queue_service.parse_queue_args(db, {"limit": "3", "operator": "Proximus"})
    assert doc == queue_service.read_queue(db, filters, limit=limit, cursor=cursor).as_json()
    assert [i["id"] for i in doc["items"]] == [dataset["r1"], dataset["r4"], dataset["r6"]]
    assert doc["total"] == 3 and doc["next_cursor"] is None and doc["filters"] == {"operator": "Proximus"}
    following = referent.get("/api/v1/queue?limit=2").get_json()
    assert [i["id"] for i in following["items"]] == [dataset["r1"], dataset["r2"]]
    rest = referent.get(f"/api/v1/queue?limit=2&cursor={following['next_cursor']}").get_json()
    assert [i["id"] for i in rest["items"]] == [dataset["r4"], dataset["r6"]]
    assert representative.get("/api/v1/queue").status_code == 403


def test_one_statement_per_page(db, dataset) -> None:  # noqa: ANN001
    """A page and its count come from one SQL statement (set-wise, whatever the page size)."""
    from sqlalchemy import event

    statements: list[str] = []
    connection = db.connection()

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ANN002
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        page = queue_service.read_queue(db, queue_service.QueueFilters(statuses=queue_service.vocab.STATUSES))
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert len(page.items) == 6 and page.total == 6
    assert len([s for s in statements if "FROM reports" in s]) == 1


def test_search_uses_the_french_index(db, dataset) -> None:  # noqa: ANN001
    """The search's condition is the expression of the GIN index of migration 0012."""
    db.execute(text("SET LOCAL enable_seqscan = off"))
    assert queue_service.SEARCH_SQL in queue_service.where_clause(queue_service.QueueFilters(q="antenne"))[0]
    plan = "\n".join(r[0] for r in db.execute(
        text(f"EXPLAIN SELECT r.id FROM reports r WHERE {queue_service.SEARCH_SQL}"), {"q_text": "antenne"}))
    assert "ix_reports_description_fts" in plan


def test_bulk_validate_moves_what_it_can_and_409_lists_the_rest(db, dataset, referent, representative) -> None:  # noqa: ANN001
    ghost = "00000000-0000-4000-8000-000000000000"
    ids = [dataset["r1"], dataset["r3"], dataset["r4"], ghost, dataset["r1"]]
    assert representative.post("/api/v1/reports/transitions", json={"ids": ids, "to": "validated"}).status_code == 403
    response = referent.post("/api/v1/reports/transitions", json={"ids": ids, "to": "validated"})
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.get_json() == {
        "type": "urn:geosignal:error:invalid_transition",
        "title": "The report's current status does not allow this transition.",
        "status": 409, "code": "invalid_transition",
        "detail": "2 of 4 reports could not move to validated; the 2 others did",
        "to": "validated",
        "moved": sorted([dataset["r1"], dataset["r4"]]),
        "etags": _etags(db, [dataset["r1"], dataset["r4"]]),
        "refused": [{"id": ghost, "code": "not_found", "status": None},
                    {"id": dataset["r3"], "code": "invalid_transition", "status": "validated"}],
    }
    shown, total = read(db, dataset)
    assert (shown, total) == (["r2", "r6"], 2)
    statuses = dict(db.execute(text("SELECT id::text, status FROM reports")).all())
    assert [statuses[dataset[k]] for k in ("r1", "r2", "r3", "r4", "r5", "r6")] == \
        ["validated", "submitted", "validated", "validated", "rejected", "submitted"]
    # (the journal is append-only: earlier tests' events stay; read this test's reports' only)
    journal = db.execute(text("SELECT report_id::text, action, actor_role FROM audit_events "
                              "WHERE to_status = 'validated' AND report_id = ANY(CAST(:ids AS uuid[])) "
                              "ORDER BY report_id"), {"ids": list(dataset.values())}).all()
    assert sorted(journal) == sorted([(dataset["r1"], "validate", "referent"), (dataset["r4"], "validate", "referent")])
    # all movable: 200, nothing refused
    done = referent.post("/api/v1/reports/transitions", json={"ids": [dataset["r2"], dataset["r6"]], "to": "validated"})
    assert done.status_code == 200
    assert done.get_json() == {"to": "validated", "moved": sorted([dataset["r2"], dataset["r6"]]),
                               "etags": _etags(db, [dataset["r2"], dataset["r6"]]), "refused": []}
    assert read(db, dataset) == ([], 0)


def _etags(db, ids: list[str]) -> dict[str, str]:  # noqa: ANN001
    """The reports' ETags now (``"<change_seq>"``), by id."""
    return dict(db.execute(text("SELECT id::text, '\"' || change_seq || '\"' FROM reports "
                                "WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids}).all())


def test_a_decision_on_a_report_changed_since_the_queue_was_read_is_refused(db, dataset, referent,  # noqa: ANN001
                                                                            representative) -> None:
    """The referent reads the queue (each item's ``etag``), the commune changes a report (a 900 m
    square for a 200 m one, another description), the referent validates what she read: it
    was validated as changed. With the ETags read, the changed one is refused
    (``precondition_failed``, its current ``etag``) and the others move; the single report's
    transition with If-Match is refused 412 the same way."""
    page = referent.get("/api/v1/queue?status=submitted").get_json()
    read_tags = {i["id"]: i["etag"] for i in page["items"]}
    assert read_tags[dataset["r2"]] == _etags(db, [dataset["r2"]])[dataset["r2"]]
    changed = representative.patch(f"/api/v1/reports/{dataset['r2']}", json={"properties": {"description": "Tout le zoning"}},
                                   headers={"If-Match": read_tags[dataset["r2"]]})
    assert changed.status_code == 200
    answer = referent.post("/api/v1/reports/transitions", json={
        "ids": [dataset["r2"], dataset["r6"]], "to": "validated",
        "etags": {dataset["r2"]: read_tags[dataset["r2"]], dataset["r6"]: read_tags[dataset["r6"]]}})
    assert answer.status_code == 409
    body = answer.get_json()
    assert body["moved"] == [dataset["r6"]] and body["refused"] == [
        {"id": dataset["r2"], "code": "precondition_failed", "status": "submitted", "etag": changed.headers["ETag"]}]
    single = referent.post(f"/api/v1/reports/{dataset['r2']}/transitions", json={"to": "validated"},
                           headers={"If-Match": read_tags[dataset["r2"]]})
    assert (single.status_code, single.get_json()["code"]) == (412, "precondition_failed")
    # read again: it goes
    again = referent.post("/api/v1/reports/transitions", json={
        "ids": [dataset["r2"]], "to": "validated", "etags": {dataset["r2"]: changed.headers["ETag"]}})
    assert again.status_code == 200 and again.get_json()["moved"] == [dataset["r2"]]
    bad = referent.post("/api/v1/reports/transitions", json={"ids": [dataset["r2"]], "to": "validated", "etags": [1]})
    assert (bad.status_code, bad.get_json()["where"]) == (400, "/etags")


@pytest.mark.parametrize(("meanwhile", "to", "code", "now"), [
    # another referent validated it: neither validating nor rejecting what was read can be done
    ("validated", "validated", "invalid_transition", "validated"),
    ("validated", "rejected", "invalid_transition", "validated"),
    # another referent asked the commune a question: a rejection is still possible, not on what was read
    ("needs_info", "rejected", "precondition_failed", "needs_info"),
    # the commune edited it: still submitted
    ("edited", "validated", "precondition_failed", "submitted"),
])
def test_one_report_and_many_check_the_status_before_the_etag(db, dataset, referent, admin,  # noqa: ANN001, PLR0913
                                                               representative, meanwhile: str, to: str,
                                                               code: str, now: str) -> None:
    """A decision on a report changed since the queue was read: the single report's transition
    checked the ETag first (412, whoever changed what), the bulk one the status first (409
    ``invalid_transition`` with its status). Both now check the status first, and both say the
    report's status now (a 412 with ``status_from``, as ``invalid_transition`` has it): the
    page tells « someone else decided » from « the commune edited it » by it."""
    rid = dataset["r2"]
    tag = {i["id"]: i["etag"] for i in referent.get("/api/v1/queue").get_json()["items"]}[rid]
    if meanwhile == "edited":
        changed = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Tout le zoning"}},
                                       headers={"If-Match": tag})
    else:
        changed = admin.post(f"/api/v1/reports/{rid}/transitions", json={"to": meanwhile, "reason": "Quelle rue ?"})
    assert changed.status_code == 200
    current = _etags(db, [rid])[rid]
    body = {"to": to, "reason": "Hors du territoire desservi"}
    single = referent.post(f"/api/v1/reports/{rid}/transitions", json=body, headers={"If-Match": tag})
    problem = single.get_json()
    assert (single.status_code, problem["code"], problem["status_from"], problem["status_to"]) == (
        {"invalid_transition": 409, "precondition_failed": 412}[code], code, now, to)
    assert problem.get("etag") == (current if code == "precondition_failed" else None)
    bulk = referent.post("/api/v1/reports/transitions", json={"ids": [rid], **body, "etags": {rid: tag}})
    assert bulk.status_code == 409
    assert bulk.get_json()["refused"] == [{"id": rid, "code": code, "status": now,
                                           **({"etag": current} if code == "precondition_failed" else {})}]
    assert db.execute(text("SELECT status FROM reports WHERE id = :id"), {"id": rid}).scalar() == now


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"ids": [], "to": "validated"}, 400, "invalid_request"),
    ({"ids": "abc", "to": "validated"}, 400, "invalid_request"),
    ({"ids": [1, 2], "to": "validated"}, 400, "invalid_request"),
    ({"ids": ["x"] * 1001, "to": "validated"}, 400, "invalid_request"),
    ({"ids": ["x"], "to": "lost"}, 400, "invalid_request"),
    ([1], 400, "invalid_request"),
])
def test_bulk_bad_bodies(referent, body, status, code) -> None:  # noqa: ANN001
    response = referent.post("/api/v1/reports/transitions", json=body)
    assert response.status_code == status and response.get_json()["code"] == code


@pytest.mark.parametrize("member", ["extra", "reasons", "status"])
def test_bulk_refuses_unknown_members_and_moves_nothing(db, dataset, referent, member: str) -> None:  # noqa: ANN001
    """As the single report's transitions endpoint does: a member the bulk endpoint ignored
    (``"extra": 1``, a misspelt ``reasons``) moved the reports all the same."""
    ids = [dataset["r1"], dataset["r4"]]
    response = referent.post("/api/v1/reports/transitions", json={"ids": ids, "to": "validated", member: 1})
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert (body["code"], body["where"], body["detail"]) == ("invalid_request", f"/{member}", f"unknown member {member}")
    assert read(db, dataset) == (["r1", "r2", "r4", "r6"], 4)
    single = referent.post(f"/api/v1/reports/{dataset['r1']}/transitions", json={"to": "validated", member: 1})
    assert (single.status_code, single.get_json()["code"], single.get_json()["where"]) == (
        400, "invalid_request", f"/{member}")


def test_bulk_reads_its_body_as_strictly_as_the_single_endpoint(db, dataset, referent) -> None:  # noqa: ANN001
    ids = f'"{dataset["r1"]}"'
    twice = referent.post("/api/v1/reports/transitions", data=f'{{"ids": [{ids}], "to": "validated", "to": "rejected"}}',
                          content_type="application/json")
    assert (twice.status_code, twice.get_json()["code"]) == (400, "invalid_json")
    form = referent.post("/api/v1/reports/transitions", data={"ids": dataset["r1"], "to": "validated"})
    assert (form.status_code, form.get_json()["code"]) == (415, "unsupported_media_type")
    assert read(db, dataset) == (["r1", "r2", "r4", "r6"], 4)


def test_bulk_reject_needs_a_reason(db, dataset, referent) -> None:  # noqa: ANN001
    response = referent.post("/api/v1/reports/transitions", json={"ids": [dataset["r1"]], "to": "rejected"})
    assert response.status_code == 422 and response.get_json()["code"] == "reason_required"
    assert read(db, dataset)[1] == 4


def test_bulk_moves_what_needs_no_text_and_lists_what_does(db, dataset, admin) -> None:  # noqa: ANN001
    # a draft and a question to answer, both to "submitted" with no text: the whole call was
    # refused (422 reason_required), the draft with it, though it needs no text
    db.execute(text("UPDATE reports SET status = 'draft' WHERE id = :id"), {"id": dataset["r1"]})
    db.execute(text("UPDATE reports SET status = 'needs_info' WHERE id = :id"), {"id": dataset["r2"]})
    db.commit()
    response = admin.post("/api/v1/reports/transitions", json={"ids": [dataset["r1"], dataset["r2"]],
                                                               "to": "submitted"})
    body = response.get_json()
    assert (response.status_code, body["code"], body["moved"], body["refused"]) == (
        409, "invalid_transition", [dataset["r1"]],
        [{"id": dataset["r2"], "code": "reason_required", "status": "needs_info"}])
    statuses = dict(db.execute(text("SELECT id::text, status FROM reports WHERE id = ANY(CAST(:ids AS uuid[]))"),
                               {"ids": [dataset["r1"], dataset["r2"]]}).all())
    assert statuses == {dataset["r1"]: "submitted", dataset["r2"]: "needs_info"}
    # only reports that need the text: the call asks for it, nothing moves
    alone = admin.post("/api/v1/reports/transitions", json={"ids": [dataset["r2"]], "to": "submitted"})
    assert (alone.status_code, alone.get_json()["code"]) == (422, "reason_required")


def test_answered_questions_come_back_flagged(db, dataset, referent) -> None:  # noqa: ANN001
    from geosignal.services import workflow as workflow_service

    admin = db.query(User).filter_by(email="queue-admin@igretec.com").one()
    ref = db.query(User).filter_by(email=referent.email).one()
    workflow_service.transition(db, dataset["r2"], "needs_info", ref, "Quelle rue exactement ?")
    db.commit()
    assert read(db, dataset)[0] == ["r1", "r4", "r6"]
    assert read(db, dataset, status="needs_info")[0] == ["r2"]
    workflow_service.transition(db, dataset["r2"], "submitted", admin, "Rue de la Station, côté gare")
    db.commit()
    page = queue_service.read_queue(db)
    assert [(names(page, dataset)[i], item["answered"]) for i, item in enumerate(page.items)] == \
        [("r1", False), ("r2", True), ("r4", False), ("r6", False)]
    assert all(item["reference"].startswith("CM-") for item in page.items)
    answered = page.items[1]
    assert (answered["question"], answered["answer"]) == ("Quelle rue exactement ?", "Rue de la Station, côté gare")
    assert [(i["question"], i["answer"]) for i in page.items if i is not answered] == [(None, None)] * 3
    # asked again: the card shows the last question and its answer, never an older pair
    workflow_service.transition(db, dataset["r2"], "needs_info", ref, "Quel numéro ?")
    db.commit()
    assert read(db, dataset)[0] == ["r1", "r4", "r6"]
    waiting = queue_service.read_queue(db, queue_service.QueueFilters(statuses=("needs_info",))).items[0]
    assert (waiting["answered"], waiting["question"], waiting["answer"]) == (False, None, None)
    assert waiting["status_text"] == "Quel numéro ?"  # the question it waits on
    workflow_service.transition(db, dataset["r2"], "submitted", admin, "Le 12")
    db.commit()
    again = queue_service.read_queue(db).items[1]
    assert (again["question"], again["answer"], again["status_text"]) == ("Quel numéro ?", "Le 12", None)
    # rejected: the card carries the reason
    workflow_service.transition(db, dataset["r2"], "rejected", ref, "Hors zone desservie")
    db.commit()
    (rejected,) = [i for i in queue_service.read_queue(db, queue_service.QueueFilters(statuses=("rejected",))).items
                   if i["id"] == str(dataset["r2"])]
    assert (rejected["status_text"], rejected["answered"], rejected["question"]) == ("Hors zone desservie", False, None)
    assert [i["status_text"] for i in queue_service.read_queue(db).items] == [None] * 3


def test_the_card_shows_the_communes_answer(db, dataset, client, referent) -> None:  # noqa: ANN001
    from geosignal.services import workflow as workflow_service

    admin = db.query(User).filter_by(email="queue-admin@igretec.com").one()
    ref = db.query(User).filter_by(email=referent.email).one()
    workflow_service.transition(db, dataset["r2"], "needs_info", ref, "Quelle rue <exactement> ?")
    workflow_service.transition(db, dataset["r2"], "submitted", admin, "Rue de la Station\ncôté gare")
    db.commit()
    assert referent.login().status_code == 302
    html = client.get("/validation").get_data(as_text=True)
    card = html[html.index(f'id="q-{dataset["r2"]}"'):]
    card = card[:card.index("</li>")]
    assert '<dd data-field="question">Quelle rue &lt;exactement&gt; ?</dd>' in card
    assert '<dd data-field="answer">Rue de la Station\ncôté gare</dd>' in card
    other = html[html.index(f'id="q-{dataset["r1"]}"'):]
    assert 'data-field="exchange" hidden' in other[:other.index("</li>")]
    assert 'data-field="status_box" hidden' in card
    workflow_service.transition(db, dataset["r2"], "rejected", ref, "Hors zone")
    db.commit()
    html = client.get("/validation?status=rejected").get_data(as_text=True)
    card = html[html.index(f'id="q-{dataset["r2"]}"'):]
    card = card[:card.index("</li>")]
    assert '<dt data-field="status_text_label">Motif du rejet</dt>' in card
    assert '<dd data-field="status_text">Hors zone</dd>' in card
    assert '<label class="check queue-pick" hidden>' in card  # a rejected report is not validated in bulk
    rejected = db.scalar(text("SELECT count(*) FROM reports WHERE status = 'rejected'"))
    assert rejected >= 2  # the dataset's and r2: the plural
    assert f"{rejected} signalements trouvés ; {rejected} affichés." in html


def test_the_card_shows_households_and_businesses_affected_when_given(db, dataset, client, referent) -> None:  # noqa: ANN001
    """The counts a report declares are on its card with the contract's labels (so the referent
    can weigh reports from the queue); a count not given is not shown."""
    db.execute(text("UPDATE reports SET households_affected = 1234, businesses_affected = 0 WHERE id = :id"),
               {"id": dataset["r1"]})
    db.execute(text("UPDATE reports SET businesses_affected = 7 WHERE id = :id"), {"id": dataset["r2"]})
    db.commit()
    assert queue_service.COUNT_FIELDS == ("households_affected", "businesses_affected")
    items = {i["id"]: i for i in queue_service.read_queue(db).items}
    assert (items[dataset["r1"]]["households_affected"], items[dataset["r1"]]["businesses_affected"]) == (1234, 0)
    assert (items[dataset["r2"]]["households_affected"], items[dataset["r2"]]["businesses_affected"]) == (None, 7)
    assert referent.login().status_code == 302
    html = client.get("/validation").get_data(as_text=True)

    def card(name: str) -> str:
        part = html[html.index(f'id="q-{dataset[name]}"'):]
        return part[:part.index("</li>")]

    assert ('<div data-count="households_affected"><dt>Ménages touchés</dt>'
            '<dd data-field="households_affected">1\u202f234</dd></div>') in card("r1")
    assert ('<div data-count="businesses_affected"><dt>Entreprises touchées</dt>'
            '<dd data-field="businesses_affected">0</dd></div>') in card("r1")  # zero is given
    assert ('<div data-count="households_affected" hidden><dt>Ménages touchés</dt>'
            '<dd data-field="households_affected"></dd></div>') in card("r2")
    assert ('<div data-count="businesses_affected"><dt>Entreprises touchées</dt>'
            '<dd data-field="businesses_affected">7</dd></div>') in card("r2")
    assert card("r4").count("data-count=") == 2 and card("r4").count(" hidden><dt>") == 2  # none given
    # the template the script fills for later pages has both, labelled the same
    template = html[html.index('<template id="queue-item-template">'):]
    assert '<div data-count="households_affected" hidden><dt>Ménages touchés</dt>' in template
    assert '<div data-count="businesses_affected" hidden><dt>Entreprises touchées</dt>' in template
