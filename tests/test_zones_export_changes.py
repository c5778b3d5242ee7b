"""Incremental DWconnect exports carry zone changes exactly (schema 1.3.0): a zone confirmed,
split, left by a member, grown by a merge or proposed again without any exported report
changing comes in the next ``since`` export, and a confirmed zone gone is listed in
``zones_removed``; applying a full export then incremental ones (paged or not, API or CLI)
gives the zones of a fresh full export. Real PostGIS."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from pathlib import Path

import pytest
from shapely.geometry import Point, box
from sqlalchemy import text, update

from geosignal.models import Report, User
from geosignal.services import export as export_service
from geosignal.services import zones
from tests.conftest import csrf_token, make_account
from tests.test_export import assert_export_valid, export, strict_json, validate_all
from tests.test_zones import X, Y, _admin, file, square, zone_of


def _ids(items: list[dict]) -> list[int]:
    return [z["id"] for z in items]


def _apply(state: dict[int, dict], doc: dict) -> None:
    """What an integrator does with a document: upsert ``zones`` by id, delete ``zones_removed``."""
    for z in doc["zones"]:
        state[z["id"]] = z
    for zid in doc["zones_removed"]:
        state.pop(zid, None)


def _pass(account, query: str, limit: int | None = None) -> list[dict]:  # noqa: ANN001
    """The documents of one pass: one, or every page following ``next_cursor``."""
    if limit is None:
        return [export(account, query)[0]]
    sep = "&" if query else "?"
    pages = [export(account, f"{query}{sep}limit={limit}")[0]]
    while "next_cursor" in pages[-1]:
        pages.append(export(account, f"{query}{sep}limit={limit}&cursor={pages[-1]['next_cursor']}")[0])
    return pages


def _confirmed_pair(db, y: float) -> tuple[tuple[str, str], int]:  # noqa: ANN001
    """Two overlapping 200 m squares at ``y`` (EPSG:31370), every report validated, their zone
    confirmed: (the two report ids, the zone's id)."""
    pair = tuple(file(db, square(X + dx, y)) for dx in (0, 150))
    validate_all(db)
    zone_id = zone_of(db, pair[0])["zone_id"]
    zones.confirm_zone(db, _admin(db), zone_id)
    db.commit()
    return pair, zone_id


def _withdraw(db, *report_ids: str) -> None:  # noqa: ANN001
    db.execute(update(Report).where(Report.id.in_([uuid.UUID(r) for r in report_ids])).values(status="withdrawn"))
    db.commit()


def test_confirm_split_withdraw_merge_and_unconfirm_come_in_the_next_incremental_export(client, db) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    admin = _admin(db)
    a1, a2, a3 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150, 300))
    b1, b2 = (file(db, square(X + dx, Y - 3600)) for dx in (0, 150))
    c1, c2, c3 = (file(db, square(X + dx, Y - 4200)) for dx in (0, 150, 300))
    e1, e2 = (file(db, square(X + dx, Y - 4800)) for dx in (0, 150))
    validate_all(db)
    za, zb, zc, ze = (zone_of(db, r)["zone_id"] for r in (a1, b1, c1, e1))
    for z in (zb, zc, ze):
        zones.confirm_zone(db, admin, z)
    db.commit()
    full, _ = export(referent)
    assert _ids(full["zones"]) == sorted([zb, zc, ze]) and full["zones_removed"] == []
    assert_export_valid(full)
    state = {z["id"]: z for z in full["zones"]}
    since = full["next_since"]

    def incremental(query: str = "") -> dict:
        nonlocal since
        doc, response = export(referent, f"?since={since}{query}")
        assert_export_valid(doc)
        assert response.headers["X-Next-Since"] == doc["next_since"]
        since = doc["next_since"]
        _apply(state, doc)
        return doc

    # (a) the referent confirms A: no report changes, the zone comes
    zones.confirm_zone(db, admin, za)
    db.commit()
    doc = incremental()
    assert doc["features"] == [] and _ids(doc["zones"]) == [za] and doc["zones_removed"] == []
    assert doc["zones"][0]["properties"]["report_ids"] == [a1, a2, a3]
    assert doc["schema_version"] == "1.3.0" and doc["next_since"] > full["next_since"]
    # nothing changed since: nothing comes
    doc = incremental()
    assert (doc["features"], doc["zones"], doc["zones_removed"]) == ([], [], [])

    # (b) a split: A keeps its id with the reports left
    zones.split_zone(db, admin, za, [a3])
    db.commit()
    doc = incremental()
    assert doc["features"] == [] and _ids(doc["zones"]) == [za] and doc["zones_removed"] == []
    assert doc["zones"][0]["properties"]["report_ids"] == [a1, a2]
    assert doc["zones"][0]["properties"]["report_count"] == 2

    # (c) a member withdrawn: B is left with one report and is gone; b2 is no longer validated
    _withdraw(db, b2)
    doc = incremental()
    assert doc["features"] == [] and doc["zones"] == [] and doc["zones_removed"] == [zb]

    # (d) split apart: C's last report alone, the two taken out a proposal of their own
    zones.split_zone(db, admin, zc, [c2, c3])
    db.commit()
    assert zone_of(db, c1) is None and zone_of(db, c2)["state"] == "proposed"
    doc = incremental()
    assert doc["features"] == [] and doc["zones"] == [] and doc["zones_removed"] == [zc]

    # (e) a proposed zone merges into A through a bridging report (none of them validated)
    p1, p2 = file(db, square(X - 350, Y - 3000)), file(db, square(X - 500, Y - 3000))
    zp = zone_of(db, p1)["zone_id"]
    bridge = file(db, square(X - 170, Y - 3000))
    db.commit()
    assert zone_of(db, p1)["zone_id"] == za and zones.get_zone(db, admin, za)["properties"]["state"] == "confirmed"
    doc = incremental()
    assert doc["features"] == [] and _ids(doc["zones"]) == [za]
    assert doc["zones"][0]["properties"]["report_ids"] == [a1, a2, p1, p2, bridge]
    assert doc["zones_removed"] == []  # the proposal merged was never exported
    assert zp not in state

    # (f) no longer confirmed: both reports of E moved to the fixed network (their confirmation
    # was for mobile) are a proposal again; with status=all, the reports come too
    db.execute(update(Report).where(Report.id.in_([uuid.UUID(e1), uuid.UUID(e2)])).values(network="fixed"))
    db.commit()
    doc = incremental("&status=all")
    assert {f["id"] for f in doc["features"]} == {e1, e2} and doc["zones"] == [] and doc["zones_removed"] == [ze]
    assert zones.get_zone(db, admin, ze)["properties"]["state"] == "proposed"

    # the integrator's zones are a fresh full export's
    fresh, _ = export(referent)
    assert state == {z["id"]: z for z in fresh["zones"]}
    assert _ids(fresh["zones"]) == [za]


def test_a_zone_follows_its_reports_to_transmitted_and_is_never_removed_for_it(client, db) -> None:  # noqa: ANN001
    """A zone counts its reports in the statuses the export carries and those they move on to
    (1.3.0): a confirmed zone whose reports all move from validated to transmitted is carried
    (its reports changed), never removed; one confirmed after its reports left validated still
    comes with status=validated; one none of whose reports was validated does not."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    a1, a2 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150))
    b1, _b2 = (file(db, square(X + dx, Y - 3600)) for dx in (0, 150))
    validate_all(db)
    za, zb = zone_of(db, a1)["zone_id"], zone_of(db, b1)["zone_id"]
    zones.confirm_zone(db, _admin(db), za)
    db.commit()
    full, _ = export(referent)
    assert _ids(full["zones"]) == [za]
    db.execute(update(Report).values(status="transmitted"))
    db.commit()
    doc, _ = export(referent, f"?since={full['next_since']}")
    assert doc["features"] == [] and _ids(doc["zones"]) == [za] and doc["zones_removed"] == []
    zones.confirm_zone(db, _admin(db), zb)
    db.commit()
    doc, _ = export(referent, f"?since={doc['next_since']}")
    assert doc["features"] == [] and _ids(doc["zones"]) == [zb] and doc["zones_removed"] == []
    # the commune filter does apply
    other, _ = export(referent, f"?since={full['next_since']}&commune=52012")
    assert other["zones"] == [] and other["zones_removed"] == []
    # a zone confirmed while its reports are only submitted: not sent with validated reports
    # (its shapes are not validated), sent with every status
    c1, _c2 = (file(db, square(X + dx, Y - 4200)) for dx in (0, 150))
    zc = zone_of(db, c1)["zone_id"]
    zones.confirm_zone(db, _admin(db), zc)
    db.commit()
    assert zc not in _ids(export(referent)[0]["zones"])
    assert zc not in _ids(export(referent, f"?since={doc['next_since']}")[0]["zones"])
    assert zc in _ids(export(referent, "?status=all")[0]["zones"])


def test_paging_carries_each_zone_change_once_on_the_last_page(client, db) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    admin = _admin(db)
    firsts = [file(db, square(X + dx, Y - 3000 - 600 * k)) for k in range(4) for dx in (0, 150)][::2]
    validate_all(db)
    zids = [zone_of(db, r)["zone_id"] for r in firsts]
    zones.confirm_zone(db, admin, zids[3])
    db.commit()
    since = export(referent)[0]["next_since"]
    for z in zids[:3]:
        zones.confirm_zone(db, admin, z)
    _withdraw(db, firsts[3])  # zone 4 gone; its report changed
    whole, _ = export(referent, f"?since={since}&status=all")
    assert _ids(whole["zones"]) == zids[:3] and whole["zones_removed"] == [zids[3]]
    assert [f["id"] for f in whole["features"]] == [firsts[3]]
    # every other report changes too, so that the pass has several pages
    db.execute(update(Report).where(Report.id != uuid.UUID(firsts[3])).values(description="revu"))
    db.commit()
    pages = _pass(referent, f"?since={since}&status=all", limit=3)
    assert len(pages) == 3
    for page in pages:
        assert_export_valid(page)
        assert page["next_since"] == pages[0]["next_since"]
    assert [(_ids(p["zones"]), p["zones_removed"]) for p in pages] == [([], [])] * 2 + [(zids[:3], [zids[3]])]
    assert sum(len(p["features"]) for p in pages) == 8


def test_integrator_applying_full_then_incremental_exports_has_the_zones_of_a_fresh_full_export(
        client, db) -> None:  # noqa: ANN001
    """A random mix of reports filed, moved, withdrawn and validated again, zones confirmed
    (again) and split; after each few changes an incremental pass (paged or not, status=all)
    applied as an integrator would: the zones match a fresh full export at every check."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    admin = _admin(db)
    rng = random.Random(20261205)

    def place():  # noqa: ANN202
        x, y = X + rng.uniform(0, 900), Y - 3000 + rng.uniform(0, 300)
        return box(x, y, x + 120, y + 120) if rng.random() < 0.6 else Point(x, y)

    reports = [file(db, place(), network="fixed" if rng.random() < 0.15 else "mobile") for _ in range(24)]
    db.commit()
    pages = _pass(referent, "?status=all", limit=7)
    state: dict[int, dict] = {}
    for page in pages:
        _apply(state, page)
    since = pages[0]["next_since"]
    seen_removed = carried_without_report = 0
    for step in range(36):
        action = rng.choice(["file", "confirm", "confirm", "split", "withdraw", "revalidate", "move"])
        listed = zones.list_zones(db, admin)["features"]
        if action == "file":
            reports.append(file(db, place()))
        elif action == "confirm" and listed:
            zones.confirm_zone(db, admin, rng.choice(listed)["id"])
        elif action == "split":
            confirmed = [z for z in listed if z["properties"]["state"] == "confirmed"]
            if confirmed:
                zone = rng.choice(confirmed)
                ids = zone["properties"]["report_ids"]
                zones.split_zone(db, admin, zone["id"], rng.sample(ids, rng.randint(1, len(ids) - 1)))
        elif action == "withdraw":
            _withdraw(db, rng.choice(reports))
        elif action == "revalidate":
            db.execute(update(Report).where(Report.status == "withdrawn").values(status="validated"))
        elif action == "move":
            rid = uuid.UUID(rng.choice(reports))
            db.execute(text("UPDATE reports SET geometry = ST_Translate(geometry, :dx, 0) WHERE id = :id"),
                       {"dx": rng.choice([-0.002, 0.002]), "id": rid})
        db.commit()
        if step % 3 == 2:
            docs = _pass(referent, f"?status=all&since={since}", limit=rng.choice([None, 2, 5]))
            for doc in docs:
                assert_export_valid(doc)
                _apply(state, doc)
            seen_removed += sum(len(d["zones_removed"]) for d in docs)
            sent = {f["id"] for d in docs for f in d["features"]}
            carried_without_report += sum(1 for d in docs for z in d["zones"] if not set(z["properties"]["report_ids"]) & sent)
            since = docs[0]["next_since"]
            fresh, _ = export(referent, "?status=all")
            assert state == {z["id"]: z for z in fresh["zones"]}, f"step {step}"
    # the mix exercised what the fault was about
    assert seen_removed > 0 and carried_without_report > 0 and state


def test_cli_since_last_transmitted_carries_zone_changes(app, client, db, tmp_path: Path) -> None:  # noqa: ANN001
    admin = _admin(db)
    a1, a2, a3 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150, 300))
    b1, b2 = (file(db, square(X + dx, Y - 3600)) for dx in (0, 150))
    validate_all(db)
    za, zb = zone_of(db, a1)["zone_id"], zone_of(db, b1)["zone_id"]
    zones.confirm_zone(db, admin, zb)
    db.commit()
    runner = app.test_cli_runner()

    def cli_export(name: str, *args: str) -> dict:
        out = tmp_path / name
        result = runner.invoke(args=["export", "-o", str(out), *args])
        assert result.exit_code == 0, result.output
        doc = strict_json(out.read_bytes())
        assert_export_valid(doc)
        return doc

    first = cli_export("first.geojson", "--mark-transmitted")
    assert _ids(first["zones"]) == [zb] and len(first["features"]) == 5
    zones.confirm_zone(db, admin, za)
    _withdraw(db, b2)
    second = cli_export("second.geojson", "--since-last-transmitted")
    # (for DWconnect, the default: b2, forwarded and withdrawn since, comes as a removal)
    assert [(f["id"], f["properties"]["status"]) for f in second["features"]] == [(b2, "withdrawn")]
    assert _ids(second["zones"]) == [za] and second["zones_removed"] == [zb]
    assert second["zones"][0]["properties"]["report_ids"] == [a1, a2, a3]
    # not marked: the next one since the last transmitted run says the same
    assert cli_export("third.geojson", "--since-last-transmitted")["zones_removed"] == [zb]


def test_csv_and_geopackage_carry_no_zones(client, db, tmp_path: Path) -> None:  # noqa: ANN001
    from pyogrio import read_dataframe

    referent = make_account(client, db, "referent@igretec.com", "referent")
    a1, _a2 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150))
    validate_all(db)
    since = export(referent)[0]["next_since"]
    zones.confirm_zone(db, _admin(db), zone_of(db, a1)["zone_id"])
    db.commit()
    csv_text = referent.get(f"/api/v1/exports/dwconnect.csv?since={since}&dialect=plain").get_data(as_text=True)
    assert csv_text.splitlines() == [",".join(export_service.CSV_COLUMNS)]
    path = tmp_path / "since.gpkg"
    path.write_bytes(referent.get(f"/api/v1/exports/dwconnect.gpkg?since={since}").get_data())
    assert len(read_dataframe(path, layer="white_zones")) == 0
    full_csv = referent.get("/api/v1/exports/dwconnect.csv?dialect=plain").get_data(as_text=True).splitlines()
    assert full_csv[0] == ",".join(export_service.CSV_COLUMNS) and len(full_csv) == 3


def test_zone_change_numbers_follow_the_change_sequence_and_only_confirmed_zones_count(db) -> None:  # noqa: ANN001
    a1, a2 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150))
    za = zone_of(db, a1)["zone_id"]
    logged = lambda: dict(db.execute(text("SELECT zone_id, change_seq FROM zone_changes")).all())  # noqa: E731
    assert logged() == {}  # a proposal is not exported: not numbered
    top = db.scalar(text("SELECT max(change_seq) FROM reports"))
    zones.confirm_zone(db, _admin(db), za)
    first = logged()
    assert list(first) == [za] and first[za] > top
    assert export_service.read_watermark(db).change_seq == first[za]  # the watermark counts zone changes
    zones.confirm_zone(db, _admin(db), za)  # confirming again with no newcomer changes nothing
    assert logged() == first
    db.execute(text("UPDATE reports SET description = 'revu'"))  # no zone change
    assert logged() == first
    _withdraw(db, a2)
    assert logged()[za] > first[za] and zone_of(db, a1) is None


def test_watermark_waits_for_an_uncommitted_zone_decision() -> None:
    """A confirmation that takes its zone's change number before an export reads its watermark,
    and commits after, is not skipped: the watermark waits for it (the reports' rule)."""
    from geosignal.devdb import scratch_database
    from tests.conftest import COMMUNES_FILE

    with scratch_database("geosignal_test_zchg", COMMUNES_FILE) as scratch:
        with scratch.session() as s:
            from geosignal.services.users import create_user

            create_user(s, "zones@igretec.com", "admin", None, "correct horse battery")
            a1, _a2 = (file(s, square(X + dx, Y - 3000)) for dx in (0, 150))
            s.commit()
            za = zone_of(s, a1)["zone_id"]
            before = export_service.read_watermark(s)
            s.commit()
        writer, reader = scratch.session(), scratch.session()
        try:
            zones.confirm_zone(writer, writer.query(User).filter_by(email="zones@igretec.com").one(), za)
            number = writer.scalar(text("SELECT change_seq FROM zone_changes WHERE zone_id = :z"), {"z": za})
            got: list = []
            thread = threading.Thread(target=lambda: got.append(export_service.read_watermark(reader)))
            thread.start()
            time.sleep(0.5)
            assert thread.is_alive() and not got  # waiting for the writer
            writer.commit()
            thread.join(10)
            assert got and got[0].change_seq >= number > before.change_seq
            reader.commit()
            filters = export_service.ExportFilters(statuses=None, since_seq=before.change_seq)  # (not validated)
            body = b"".join(export_service.stream_export(reader, export_service.ExportRequest(filters=filters)).chunks)
            assert [z["id"] for z in json.loads(body)["zones"]] == [za]
        finally:
            writer.close()
            reader.close()


def test_migration_0026_numbers_confirmed_zones_and_back() -> None:
    """Stored data under 0025 (a confirmed zone, a proposal): 0026 numbers the confirmed zone
    above every report's change, rebuilds the stored Features as 1.3.0 (change_seq kept), and
    later zone changes are numbered; the way down drops the numbers and gives 1.2.0 back, and
    the zone triggers still group reports."""
    import os

    from sqlalchemy import create_engine

    from geosignal import migrate
    from geosignal.devdb import create_database, drop_database

    name = f"geosignal_m0026_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    engine = create_engine(url)

    def report(c, x: float, y: float, status: str = "validated") -> uuid.UUID:  # noqa: ANN001
        rid = uuid.uuid4()
        c.execute(text("INSERT INTO reports (id, geometry, commune_nis, network, description, status) VALUES "
                       "(:id, ST_MakeEnvelope(:x, :y, :x + 0.002, :y + 0.002, 4326), '52011', 'mobile', 'm', :s)"),
                  {"id": rid, "x": x, "y": y, "s": status})
        return rid

    def stored() -> dict:
        with engine.begin() as c:
            return {str(rid): (seq, json.loads(f)["properties"]["schema_version"]) for rid, seq, f in c.execute(text(
                "SELECT r.id, r.change_seq, f.feature_json FROM reports r JOIN report_features f ON f.seq = r.seq"))}

    try:
        migrate.upgrade(url, "0025")
        with engine.begin() as c:
            c.execute(text("INSERT INTO communes (nis_code, name_fr, boundary, area_m2) VALUES ('52011', 'Charleroi', "
                           "ST_Multi(ST_MakeEnvelope(4.3, 50.3, 4.6, 50.5, 4326)), 1)"))
            confirmed = [report(c, 4.40 + k * 0.0015, 50.40) for k in range(3)]
            proposed = [report(c, 4.40 + k * 0.0015, 50.45) for k in range(2)]
            decision = c.scalar(text("INSERT INTO zone_decisions (kind, network) VALUES ('confirmed', 'mobile') "
                                     "RETURNING id"))
            c.execute(text("INSERT INTO zone_decision_reports (report_id, decision_id) "
                           "SELECT unnest(CAST(:ids AS uuid[])), :d"), {"ids": confirmed, "d": decision})
            c.execute(text("SELECT zones_lock(ARRAY['mobile']::varchar[])"))
            c.execute(text("SELECT zones_regroup(CAST(:ids AS uuid[]))"), {"ids": confirmed})
            zone_ids = dict(c.execute(text("SELECT state, id FROM zones")).all())
        before = stored()
        assert set(zone_ids) == {"confirmed", "proposed"} and {v[1] for v in before.values()} == {"1.2.0"}
        migrate.upgrade(url, "0026")
        after = stored()
        assert after == {rid: (seq, "1.3.0") for rid, (seq, _) in before.items()}
        with engine.begin() as c:
            numbered = dict(c.execute(text("SELECT zone_id, change_seq FROM zone_changes")).all())
            assert list(numbered) == [zone_ids["confirmed"]]
            assert numbered[zone_ids["confirmed"]] > max(seq for seq, _ in before.values())
            # a change under 0026: two reports of three withdrawn, the confirmed zone gone and numbered again
            c.execute(text("UPDATE reports SET status = 'withdrawn' WHERE id = ANY(CAST(:ids AS uuid[]))"),
                      {"ids": confirmed[1:]})
            assert c.scalar(text("SELECT count(*) FROM zones WHERE state = 'confirmed'")) == 0
            again = dict(c.execute(text("SELECT zone_id, change_seq FROM zone_changes")).all())
            assert again[zone_ids["confirmed"]] > numbered[zone_ids["confirmed"]]
            assert again[zone_ids["confirmed"]] > c.scalar(text("SELECT max(change_seq) FROM reports"))
        migrate.downgrade(url, "0025")
        with engine.begin() as c:
            assert c.scalar(text("SELECT to_regclass('zone_changes')")) is None
            assert {v[1] for v in stored().values()} == {"1.2.0"}
            third = report(c, 4.40 + 0.003, 50.45)  # the zone triggers of 0021 group it with the proposal
            assert c.scalar(text("SELECT count(*) FROM zone_reports WHERE report_id = ANY(CAST(:ids AS uuid[]))"),
                            {"ids": [*proposed, third]}) == 3
        migrate.upgrade(url, "0026")
        with engine.begin() as c:
            assert c.scalar(text("SELECT count(*) FROM zone_changes")) == 0  # no confirmed zone left
    finally:
        engine.dispose()
        drop_database(name)


@pytest.mark.parametrize("query", ["?since=seq:0", "?since=2000-01-01T00:00:00%2B01:00"])
def test_since_from_the_start_carries_every_confirmed_zone_and_removes_none(client, db, query: str) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    _pair, za = _confirmed_pair(db, Y - 3000)
    doc, _ = export(referent, query)
    full, _ = export(referent)
    assert doc["zones"] == full["zones"] and _ids(doc["zones"]) == [za] and doc["zones_removed"] == []


def test_a_run_of_zone_changes_alone_is_one_to_send_and_to_mark(client, db) -> None:  # noqa: ANN001
    """An incremental export whose only news is a zone confirmed and another gone carries no
    report, but DWconnect must still receive it: its run counts the zones (migration 0027),
    the history says them and offers the mark, and once marked ``since=last_transmitted``
    moves past them. A CSV of the same reports, which carries no zone, is not the same file."""
    from tests.test_exports_sent import plain, run_item

    referent = make_account(client, db, "referent@igretec.com", "referent")
    admin = _admin(db)
    a1, a2 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150))
    b1, b2 = (file(db, square(X + dx, Y - 3600)) for dx in (0, 150))
    validate_all(db)
    za, zb = zone_of(db, a1)["zone_id"], zone_of(db, b1)["zone_id"]
    zones.confirm_zone(db, admin, zb)
    db.commit()
    first, response = export(referent, "?since=last_transmitted")
    assert len(first["features"]) == 4 and _ids(first["zones"]) == [zb]
    first_run = response.headers["X-Export-Run"]
    assert referent.post(f"/api/v1/exports/runs/{first_run}/transmitted").get_json()["moved"] == 4
    summary = referent.get(f"/api/v1/exports/runs/{first_run}").get_json()
    assert (summary["feature_count"], summary["zone_count"], summary["zones_removed_count"]) == (4, 1, 0)

    # no report changes: A confirmed, B left by a withdrawn member (gone)
    zones.confirm_zone(db, admin, za)
    db.commit()
    _withdraw(db, b2)
    doc, response = export(referent, "?since=last_transmitted&status=validated")
    assert doc["features"] == [] and _ids(doc["zones"]) == [za] and doc["zones_removed"] == [zb]
    zone_run = response.headers["X-Export-Run"]
    summary = referent.get(f"/api/v1/exports/runs/{zone_run}").get_json()
    assert (summary["feature_count"], summary["zone_count"], summary["zones_removed_count"]) == (0, 1, 1)
    # the same pass as CSV: no report, no zone — nothing to send
    csv = referent.get("/api/v1/exports/dwconnect.csv?since=last_transmitted&status=validated")
    assert csv.status_code == 200 and csv.get_data(as_text=True).count("\n") == 1  # the header alone
    csv_run = csv.headers["X-Export-Run"]

    assert referent.login().status_code == 302
    page = client.get("/exports").get_data(as_text=True)
    item = run_item(page, zone_run)
    assert "0 signalement de toutes les communes, seulement les nouveaux depuis le dernier export transmis, " \
           "1 zone blanche confirmée, 1 zone retirée, pas encore marqué comme transmis." in item
    assert f'action="/exports/{zone_run}/transmis"' in page
    csv_item = run_item(page, csv_run)
    assert "aucun signalement : rien à transmettre." in csv_item
    assert f'action="/exports/{csv_run}/transmis"' not in page
    en = plain(client.get("/exports", headers={"Accept-Language": "en"}).get_data(as_text=True))
    assert "1 confirmed white zone, 1 zone removed" in en

    marked = client.post(f"/exports/{zone_run}/transmis", data={"csrf_token": csrf_token(page)},
                         follow_redirects=True)
    assert "Export marqué comme transmis à DWconnect ; aucun signalement ne change de statut." in \
        marked.get_data(as_text=True)
    # what was sent is not sent again
    doc, _ = export(referent, "?since=last_transmitted&status=validated")
    assert (doc["features"], doc["zones"], doc["zones_removed"]) == ([], [], [])


def test_a_marked_csv_does_not_stand_for_a_geojson_run_with_zones(client, db) -> None:  # noqa: ANN001
    """Two runs of the same reports, as CSV (no zone) and GeoJSON (a confirmed zone): with the
    CSV marked, the GeoJSON still offers the mark (DWconnect lacks its zone); with the GeoJSON
    marked, the CSV is said already sent."""
    from tests.test_exports_sent import run_item

    referent = make_account(client, db, "referent@igretec.com", "referent")
    admin = _admin(db)
    a1, _a2 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150))
    validate_all(db)
    zones.confirm_zone(db, admin, zone_of(db, a1)["zone_id"])
    db.commit()
    csv = referent.get("/api/v1/exports/dwconnect.csv")
    assert csv.get_data(as_text=True).count("\n") == 3
    geojson, response = export(referent)
    assert len(geojson["features"]) == 2 and len(geojson["zones"]) == 1
    csv_run, geojson_run = csv.headers["X-Export-Run"], response.headers["X-Export-Run"]
    mark = "UPDATE export_runs SET transmitted_at = {}, mark_transmitted = {} WHERE id = :id"
    db.execute(text(mark.format("now()", "true")), {"id": csv_run})
    db.commit()
    assert referent.login().status_code == 302
    page = client.get("/exports").get_data(as_text=True)
    assert f'action="/exports/{geojson_run}/transmis"' in page
    db.execute(text(mark.format("NULL", "false")), {"id": csv_run})
    db.execute(text(mark.format("now()", "true")), {"id": geojson_run})
    db.commit()
    page = client.get("/exports").get_data(as_text=True)
    assert f'action="/exports/{csv_run}/transmis"' not in page
    assert "DWconnect a déjà ces signalements tels quels" in run_item(page, csv_run)


def test_cli_export_says_the_zones_it_wrote(app, client, db, tmp_path: Path) -> None:  # noqa: ANN001
    admin = _admin(db)
    a1, _a2 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150))
    validate_all(db)
    zones.confirm_zone(db, admin, zone_of(db, a1)["zone_id"])
    db.commit()
    result = app.test_cli_runner().invoke(args=["export", "-o", str(tmp_path / "all.geojson")])
    assert result.exit_code == 0, result.output
    assert "2 reports, 1 confirmed zone written to " in result.output


def test_a_marking_alone_does_not_send_a_zone_again_since_the_last_transmitted_export(client, db) -> None:  # noqa: ANN001
    """A user's trial: a zone sent, its export marked as transmitted, other reports validated:
    ``since=last_transmitted`` carried the new reports and the zone again, unchanged (its
    reports' move to transmitted by the marking was taken for news). It carries the zone again
    when one of its reports changes after the marking (an edit), as before."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    (_a1, a2), za = _confirmed_pair(db, Y - 6000)
    first, response = export(referent, "?since=last_transmitted")
    assert len(first["features"]) == 2 and _ids(first["zones"]) == [za]
    assert referent.post(f"/api/v1/exports/runs/{response.headers['X-Export-Run']}/transmitted").get_json()["moved"] == 2
    news = file(db, square(X + 3000, Y - 6000))
    db.execute(update(Report).where(Report.id == uuid.UUID(news)).values(status="validated"))
    db.commit()
    doc, _ = export(referent, "?since=last_transmitted")
    assert [f["id"] for f in doc["features"]] == [news] and doc["zones"] == [] and doc["zones_removed"] == []
    # a plain since (the first run's watermark) still counts the marking as a change of the zone's reports
    assert _ids(export(referent, f"?since={first['next_since']}")[0]["zones"]) == [za]
    # a change of one of its reports after the marking: the zone comes again
    db.execute(update(Report).where(Report.id == uuid.UUID(a2)).values(description="Rue du Moulin, précisée"))
    db.commit()
    doc, _ = export(referent, "?since=last_transmitted")
    assert _ids(doc["zones"]) == [za]


def _mark(account, run: str, moved: int) -> None:  # noqa: ANN001
    r = account.post(f"/api/v1/exports/runs/{run}/transmitted")
    assert r.status_code == 200 and r.get_json()["moved"] == moved, r.get_json()


def test_a_marked_csv_does_not_hide_confirmed_zones_from_last_transmitted(client, db) -> None:  # noqa: ANN001
    """A reviewer's probe: a CSV (no zones) marked as transmitted became the starting point of
    ``since=last_transmitted`` for the zones too: the zone confirmed before it was never sent
    (``zones`` was ``[]``), for good. The zone part starts from the newest marked run that
    carried zones (none here: every zone), the reports' part from the CSV; the run records it,
    and once that GeoJSON is marked the zone is not sent again."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    _pair, za = _confirmed_pair(db, Y - 3000)
    csv = referent.get("/api/v1/exports/dwconnect.csv?status=dwconnect")
    assert csv.status_code == 200 and csv.get_data(as_text=True).count("\n") == 3
    csv_run = csv.headers["X-Export-Run"]
    _mark(referent, csv_run, 2)
    doc, response = export(referent, "?since=last_transmitted")
    assert (doc["features"], _ids(doc["zones"]), doc["zones_removed"]) == ([], [za], [])
    run = response.headers["X-Export-Run"]
    filters = referent.get(f"/api/v1/exports/runs/{run}").get_json()["filters"]
    assert (filters["since_last_transmitted"], filters["zones_since_last_transmitted"], filters["zones_since"]) \
        == (csv_run, "none", None)
    _mark(referent, run, 0)
    doc, response = export(referent, "?since=last_transmitted")
    assert (doc["features"], doc["zones"], doc["zones_removed"]) == ([], [], [])
    # the GeoJSON, newest, gives both parts: nothing more is recorded
    assert "zones_since_last_transmitted" not in referent.get(
        f"/api/v1/exports/runs/{response.headers['X-Export-Run']}").get_json()["filters"]


def test_a_csv_marked_after_a_geojson_leaves_the_zones_to_the_geojson_watermark(app, client, db,  # noqa: ANN001
                                                                                 tmp_path: Path) -> None:
    """A GeoJSON run marked, a zone confirmed and another gone, then a CSV marked (it carried
    the withdrawal, not the zones): ``since=last_transmitted`` (HTTP and ``geosignal export
    --since-last-transmitted``) carried neither zone change (the CSV's watermark passed them).
    They come from the GeoJSON run's watermark; the reports from the CSV's."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    admin = _admin(db)
    a1, _a2 = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150))
    b1, b2 = (file(db, square(X + dx, Y - 3600)) for dx in (0, 150))
    validate_all(db)
    za, zb = zone_of(db, a1)["zone_id"], zone_of(db, b1)["zone_id"]
    zones.confirm_zone(db, admin, zb)
    db.commit()
    first, response = export(referent, "?since=last_transmitted")
    assert len(first["features"]) == 4 and _ids(first["zones"]) == [zb]
    geojson_run = response.headers["X-Export-Run"]
    _mark(referent, geojson_run, 4)
    zones.confirm_zone(db, admin, za)
    db.commit()
    _withdraw(db, b2)
    csv = referent.get("/api/v1/exports/dwconnect.csv?since=last_transmitted&dialect=plain")
    assert [line.split(",")[0] for line in csv.get_data(as_text=True).splitlines()[1:]] == [b2]
    _mark(referent, csv.headers["X-Export-Run"], 0)
    doc, response = export(referent, "?since=last_transmitted")
    assert (doc["features"], _ids(doc["zones"]), doc["zones_removed"]) == ([], [za], [zb])
    filters = referent.get(f"/api/v1/exports/runs/{response.headers['X-Export-Run']}").get_json()["filters"]
    assert (filters["zones_since_last_transmitted"], filters["zones_since"]) == (geojson_run, first["next_since"])
    out = tmp_path / "since.geojson"
    result = app.test_cli_runner().invoke(args=["export", "-o", str(out), "--since-last-transmitted"])
    assert result.exit_code == 0, result.output
    cli = strict_json(out.read_bytes())
    assert (cli["features"], _ids(cli["zones"]), cli["zones_removed"]) == ([], [za], [zb])


def test_a_geojson_marked_from_a_csv_watermark_before_the_mend_gives_no_zone_watermark(client, db) -> None:  # noqa: ANN001
    """A GeoJSON run made ``since=last_transmitted`` above a marked CSV before the mend (its
    record names no zone starting point: its zones started from the CSV's watermark) carried
    only part of the zones; marked, it is not the zones' starting point: every zone comes."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    _pair, za = _confirmed_pair(db, Y - 3000)
    csv = referent.get("/api/v1/exports/dwconnect.csv")
    assert csv.get_data(as_text=True).count("\n") == 3
    _mark(referent, csv.headers["X-Export-Run"], 2)
    _doc, response = export(referent, "?since=last_transmitted")
    run = response.headers["X-Export-Run"]
    db.execute(text("UPDATE export_runs SET filters = filters - 'zones_since_last_transmitted' - 'zones_since' "
                    "WHERE id = :id"), {"id": run})  # (as recorded before the mend)
    db.commit()
    _mark(referent, run, 0)
    doc, _ = export(referent, "?since=last_transmitted")
    assert (doc["features"], _ids(doc["zones"]), doc["zones_removed"]) == ([], [za], [])


def _transition(account, report_id: str, to: str, reason: str | None = None) -> None:  # noqa: ANN001
    body = {"to": to} if reason is None else {"to": to, "reason": reason}
    r = account.post(f"/api/v1/reports/{report_id}/transitions", json=body)
    assert r.status_code == 200, r.get_json()


def test_a_confirmed_zone_left_by_its_only_forwarded_report_is_removed(client, db) -> None:  # noqa: ANN001
    """A reviewer's probe: a confirmed zone of three reports, one validated; its validated
    report withdrawn, the zone stays confirmed with the two submitted ones. The incremental
    ``status=dwconnect`` export carried the withdrawal, ``zones`` [] and ``zones_removed`` []:
    the integrator kept the zone (``report_count`` 3, naming the report it had just deleted),
    a fresh full export had none. A zone changed since that the pass no longer carries because
    none of its reports is in the exported statuses (or those they move on to) is removed;
    withdrawn whole later, it is said removed again (harmless)."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    a, b, c = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150, 300))
    db.execute(update(Report).where(Report.id == uuid.UUID(a)).values(status="validated"))
    db.commit()
    zid = zone_of(db, a)["zone_id"]
    zones.confirm_zone(db, _admin(db), zid)
    db.commit()
    full, _ = export(referent, "?status=dwconnect")
    assert _ids(full["zones"]) == [zid] and full["zones"][0]["properties"]["report_ids"] == [a, b, c]
    state = {z["id"]: z for z in full["zones"]}
    _transition(rep, a, "withdrawn", "doublon")
    db.commit()
    assert zone_of(db, b)["zone_id"] == zid and zone_of(db, b)["state"] == "confirmed"
    doc, _ = export(referent, f"?status=dwconnect&since={full['next_since']}")
    assert_export_valid(doc)
    assert [(f["id"], f["properties"]["status"]) for f in doc["features"]] == [(a, "withdrawn")]
    assert (doc["zones"], doc["zones_removed"]) == ([], [zid])
    _apply(state, doc)
    fresh, _ = export(referent, "?status=dwconnect")
    assert state == {z["id"]: z for z in fresh["zones"]} == {}
    # the same with status=validated (its onward statuses)
    assert export(referent, f"?since={full['next_since']}")[0]["zones_removed"] == [zid]
    # nothing changed since: nothing said
    doc, _ = export(referent, f"?status=dwconnect&since={doc['next_since']}")
    assert (doc["features"], doc["zones"], doc["zones_removed"]) == ([], [], [])
    # the others withdrawn: the zone is no longer confirmed (gone), said removed again
    _withdraw(db, b, c)
    assert zone_of(db, b) is None
    doc, _ = export(referent, f"?status=dwconnect&since={doc['next_since']}")
    assert (doc["features"], doc["zones"], doc["zones_removed"]) == ([], [], [zid])


def test_a_zone_whose_last_forwarded_report_is_resolved_is_removed_by_http_and_cli(app, client, db,  # noqa: ANN001
                                                                                   tmp_path: Path) -> None:
    """The mirror, since the last transmitted export: a confirmed zone sent with its one
    validated report (marked: transmitted), then that report resolved (it leaves the zone, which
    stays confirmed with two submitted reports). ``geosignal export --since-last-transmitted``
    and ``GET …?status=dwconnect&since=last_transmitted`` carried the resolution but kept the
    zone (``zones_removed`` []); both now say it removed, alike."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    d, e, f = (file(db, square(X + dx, Y - 3600)) for dx in (0, 150, 300))
    db.execute(update(Report).where(Report.id == uuid.UUID(d)).values(status="validated"))
    db.commit()
    zid = zone_of(db, d)["zone_id"]
    zones.confirm_zone(db, _admin(db), zid)
    db.commit()
    runner = app.test_cli_runner()

    def cli_export(name: str, *args: str) -> dict:
        out = tmp_path / name
        result = runner.invoke(args=["export", "-o", str(out), "--status", "dwconnect", *args])
        assert result.exit_code == 0, result.output
        doc = strict_json(out.read_bytes())
        assert_export_valid(doc)
        return doc

    first = cli_export("first.geojson", "--mark-transmitted")
    assert [x["id"] for x in first["features"]] == [d] and _ids(first["zones"]) == [zid]
    state = {z["id"]: z for z in first["zones"]}
    _transition(referent, d, "resolved", "antenne posée")
    db.commit()
    assert zone_of(db, e)["zone_id"] == zid and zone_of(db, e)["state"] == "confirmed"
    cli = cli_export("second.geojson", "--since-last-transmitted")
    http, _ = export(referent, "?status=dwconnect&since=last_transmitted")
    for doc in (cli, http):
        assert [(x["id"], x["properties"]["status"]) for x in doc["features"]] == [(d, "resolved")]
        assert (doc["zones"], doc["zones_removed"]) == ([], [zid])
    _apply(state, cli)
    assert state == {z["id"]: z for z in export(referent, "?status=dwconnect")[0]["zones"]} == {}


def test_a_zone_whose_reports_leave_the_statuses_without_a_zone_change_is_removed(client, db) -> None:  # noqa: ANN001
    """A zone whose reports all leave the exported statuses while staying in it (validated put
    back to submitted by hand: both take part in zones, so no zone change is numbered, only the
    reports' change_seq moves) is removed too: the changed zones are those named in
    ``zone_changes`` and those holding a report changed since."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    (a1, a2), zid = _confirmed_pair(db, Y - 4200)
    full, _ = export(referent)
    assert _ids(full["zones"]) == [zid]
    logged = db.scalar(text("SELECT change_seq FROM zone_changes WHERE zone_id = :z"), {"z": zid})
    db.execute(update(Report).where(Report.id.in_([uuid.UUID(a1), uuid.UUID(a2)])).values(status="submitted"))
    db.commit()
    assert db.scalar(text("SELECT change_seq FROM zone_changes WHERE zone_id = :z"), {"z": zid}) == logged
    assert zone_of(db, a1)["state"] == "confirmed"
    doc, _ = export(referent, f"?since={full['next_since']}")
    assert (doc["features"], doc["zones"], doc["zones_removed"]) == ([], [], [zid])
    assert export(referent)[0]["zones"] == []
