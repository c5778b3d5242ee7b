"""Stored per-commune figures stay exact under real concurrent transactions (PostGIS).

Writers are threads, each with its own connection, committing their own transactions at once
(a barrier releases them together): zones across the Charleroi (52011) / Châtelet (52012)
border added, withdrawn and rejected, a commune reloaded meanwhile, with the stored figures
cleared first or already populated. Afterwards the stored figures must equal a full
recomputation from the reports: counts exactly, areas and lengths within 1e-6 relative.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator

import pytest
import shapely
from shapely.geometry import LineString, Point
from sqlalchemy import text

from geosignal.db import Database
from geosignal.devdb import scratch_database
from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import User
from geosignal.services import aggregation
from geosignal.services import reports as reports_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import CHARLEROI, COMMUNES_FILE, owner_session, run_together

CHATELET = "52012"
WRITERS = 16


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    """A scratch database of its own (the 30 communes, an admin), with a pool for 16 writers."""
    with scratch_database("geosignal_test_conc", COMMUNES_FILE) as scratch:
        url = scratch.engine.url.render_as_string(hide_password=False)
        with scratch.session() as session:
            create_user(session, "race@igretec.com", "admin", None, "correct horse battery")
            session.commit()
        db = Database(url, pool_size=WRITERS + 2, max_overflow=0)
        yield db
        db.engine.dispose()


@pytest.fixture(scope="module")
def border() -> tuple[shapely.Geometry, shapely.Geometry, shapely.Geometry]:
    """(Charleroi, Châtelet, their shared border), EPSG:31370, as PostGIS projects them."""
    import json

    from shapely.geometry import shape

    features = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))["features"]
    by_nis = {f["properties"]["nis_code"]: reproject(shape(f["geometry"]), WGS84, LAMBERT72) for f in features}
    a, b = by_nis[CHARLEROI], by_nis[CHATELET]
    return a, b, a.boundary.intersection(b.boundary)


def _zones(border, n: int, seed: int) -> list[shapely.Geometry]:  # noqa: ANN001
    """``n`` discs of 300 m (EPSG:4326) centred near the border, each partly in both communes;
    every fifth one a road stretch across the border instead."""
    charleroi, chatelet, line = border
    rng = random.Random(seed)
    inner = charleroi.representative_point()
    out = []
    while len(out) < n:
        p = line.interpolate(rng.random(), normalized=True)
        dx, dy = inner.x - p.x, inner.y - p.y
        d = (dx * dx + dy * dy) ** 0.5
        if len(out) % 5 == 4:
            geom = LineString([(p.x - 400 * dx / d, p.y - 400 * dy / d), (p.x + 400 * dx / d, p.y + 400 * dy / d)])
            if not (geom.intersects(charleroi) and geom.intersects(chatelet)):
                continue
        else:
            geom = Point(p.x + 60 * dx / d, p.y + 60 * dy / d).buffer(300, 16)
            if geom.intersection(chatelet).area < 0.05 * geom.area or geom.intersection(charleroi).area < 0.3 * geom.area:
                continue
        out.append(shapely.orient_polygons(reproject(geom, LAMBERT72, WGS84)))
    return out


def _report(geom: shapely.Geometry, i: int) -> ReportInput:
    return ReportInput(geometry=geom, properties={
        "network": "mobile" if i % 3 else "fixed", "technologies": ["4G", "5G"][: 1 + i % 2],
        "operators": ["Orange"], "issue": "no_coverage", "setting": "outdoor",
        "households_affected": i % 7, "description": f"race {i} {uuid.uuid4()}"})


def _admin(session) -> User:  # noqa: ANN001
    return session.query(User).filter_by(email="race@igretec.com").one()


def _add_job(geoms: list, start: int) -> Callable:
    def job(session) -> None:  # noqa: ANN001
        admin = _admin(session)
        for k, geom in enumerate(geoms):
            reports_service.create_report(session, admin, _report(geom, start + k))
            session.commit()
    return job


def _status_job(ids: list[str], status: str) -> Callable:
    """Move each report to ``status`` (with a reason); a move the workflow no longer allows
    (another writer got there first) is skipped, as a user would see a 409."""
    def job(session) -> None:  # noqa: ANN001
        admin = _admin(session)
        for rid in ids:
            try:
                reports_service.set_status(session, admin, rid, status, "Motif du test")
            except GeosignalError as error:
                assert error.code == "invalid_transition", error
                session.rollback()
                continue
            session.commit()
    return job


def _assert_stored_equals_recomputed(database: Database) -> dict:
    """Stored figures == full recomputation (counts exact, areas within 1e-6, lengths within 1 m)."""
    with database.session() as session:
        table = aggregation.commune_table(session)
        assert table["source"] == "stored"
        live = aggregation.compute_live(session)
    stored = {r["nis_code"]: r for r in table["communes"]}
    assert set(stored) == set(live)
    for nis, row in live.items():
        for key in ("report_count", "point_count", "line_count", "zone_count", "households_declared",
                    "breakdown"):
            assert stored[nis][key] == row[key], (nis, key)
        assert stored[nis]["white_zone_area_km2"] == pytest.approx(row["white_zone_area_km2"], rel=1e-6, abs=1e-12), (
            nis, _stale_cells(database))
        # lengths: within 1 m in all. A line leaving a border is the smaller NIS code's for its
        # first centimetre away from it, cut where it meets that 1 cm band; at a shallow crossing
        # (~1°) a millimetre's difference in that cut (PostGIS's GEOS and shapely's round it
        # differently) moves it by decimetres along the road
        assert stored[nis]["line_length_km"] == pytest.approx(row["line_length_km"], rel=1e-6, abs=1e-3)
    return stored


def _stale_cells(database: Database) -> dict:
    """Cells whose stored piece differs from a recomputation, {(nis, i, j): (stored, recomputed)}
    (for failure messages; the recomputation is rolled back)."""
    query = text("SELECT nis_code, i, j, zone_m2 FROM commune_cells WHERE zone_m2 > 0")
    with database.session() as session:
        before = {(n, i, j): z for n, i, j, z in session.execute(query)}
        session.execute(text("SELECT commune_stats_rebuild(ARRAY(SELECT nis_code FROM communes), false)"))
        after = {(n, i, j): z for n, i, j, z in session.execute(query)}
        session.rollback()
    return {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
            if abs((before.get(k) or 0) - (after.get(k) or 0)) > 1e-6}


def _clear_reports(database: Database) -> None:
    with owner_session(database) as session:
        session.execute(text("DELETE FROM reports"))
        session.commit()


def test_sixteen_writers_across_the_border_with_stats_cleared(database, border) -> None:  # noqa: ANN001
    _clear_reports(database)
    with database.session() as session:
        session.execute(text("DELETE FROM commune_stats"))  # cells and counts go with it
        session.commit()
    zones = _zones(border, WRITERS * 4, seed=1)
    run_together(database, [_add_job(zones[w::WRITERS], 100 * w) for w in range(WRITERS)])
    stored = _assert_stored_equals_recomputed(database)
    assert stored[CHARLEROI]["report_count"] + stored[CHATELET]["report_count"] == WRITERS * 4
    # the zones overlap: the union is well below the sum of the discs (0.28 km² each)
    both = stored[CHARLEROI]["white_zone_area_km2"] + stored[CHATELET]["white_zone_area_km2"]
    assert 0.3 < both < WRITERS * 4 * 0.2827
    assert stored[CHARLEROI]["line_length_km"] > 0 and stored[CHATELET]["line_length_km"] > 0


def test_sixteen_writers_across_the_border_with_stats_populated(database, border) -> None:  # noqa: ANN001
    _clear_reports(database)
    run_together(database, [_add_job(_zones(border, 20, seed=2), 0)])  # figures populated first
    zones = _zones(border, WRITERS * 4, seed=3)
    run_together(database, [_add_job(zones[w::WRITERS], 100 * w) for w in range(WRITERS)])
    stored = _assert_stored_equals_recomputed(database)
    assert stored[CHARLEROI]["report_count"] + stored[CHATELET]["report_count"] == 20 + WRITERS * 4


def test_adds_withdrawals_rejections_and_a_reload_across_the_border(database, border) -> None:  # noqa: ANN001
    _clear_reports(database)
    run_together(database, [_add_job(_zones(border, 48, seed=4), 0)])
    with database.session() as session:
        ids = [str(i) for i in session.scalars(text("SELECT id FROM reports ORDER BY seq"))]
    zones = _zones(border, 40, seed=5)
    jobs = [_add_job(zones[w::8], 100 * w) for w in range(8)]  # 8 adders
    jobs += [_status_job(ids[k::6], s) for k, s in enumerate(
        ["withdrawn", "rejected", "validated", "withdrawn", "rejected", "validated"])]  # 6 status writers
    jobs.append(_status_job(ids[0::6], "validated"))  # races the first withdrawer on the same reports

    def reload(session) -> None:  # noqa: ANN001 - a commune reload recomputes its cells meanwhile
        aggregation.rebuild_communes(session, [CHARLEROI, CHATELET])
        session.commit()

    jobs.append(reload)
    run_together(database, jobs)
    stored = _assert_stored_equals_recomputed(database)
    with database.session() as session:
        counted, statuses = session.execute(text(
            "SELECT count(*) FILTER (WHERE status = ANY(:c)), count(*) FROM reports"),
            {"c": list(aggregation.COUNTED_STATUSES)}).one()
    assert sum(r["report_count"] for r in stored.values()) == counted
    assert sum(sum(r["breakdown"]["status"].values()) for r in stored.values()) == statuses == 88
    assert sum(r["breakdown"]["status"]["rejected"] for r in stored.values()) == 16  # ids[1::6], ids[4::6]


def _insert_zones(session, geoms: list, tag: str) -> None:  # noqa: ANN001
    """Insert zones and lines in one statement (the set-wise path of imports), home Charleroi."""
    session.execute(text(
        "INSERT INTO reports (id, geometry, commune_nis, network, description) "
        "SELECT gen_random_uuid(), ST_GeomFromWKB(w, 4326), :nis, 'mobile', :tag || n "
        "FROM unnest(CAST(:w AS bytea[])) WITH ORDINALITY AS x(w, n)"),
        {"w": [shapely.to_wkb(g) for g in geoms], "nis": CHARLEROI, "tag": tag})


def _gist_hides_reports(session) -> int:  # noqa: ANN001
    """How many live reports the GiST index on reports.geometry no longer returns."""
    box = "ST_MakeEnvelope(2, 49, 7, 52, 4326)"
    session.execute(text("SET LOCAL enable_seqscan = off"))
    via_index = session.scalar(text(f"SELECT count(*) FROM reports WHERE geometry && {box}"))
    session.execute(text("SET LOCAL enable_seqscan = on"))
    session.execute(text("SET LOCAL enable_bitmapscan = off"))
    session.execute(text("SET LOCAL enable_indexscan = off"))
    via_heap = session.scalar(text(f"SELECT count(*) FROM reports WHERE geometry && {box}"))
    session.rollback()
    return via_heap - via_index


def _split_the_gist_root_under_a_rescanning_reader(database: Database, border, seed: int) -> int:  # noqa: ANN001
    """Bring about PostgreSQL's GiST hazard on the reports' spatial index; return how many live
    reports it hides afterwards.

    The index starts as a single leaf page holding dead entries (an aborted insert); a reader
    rescans it once per grid cell inside one statement (a cursor, fetched in two steps: the shape
    of the old cell recomputation); between the two steps a set-wise insert splits the root. The
    kill hints the reader recorded on the root leaf then land on a new leaf, on live entries."""
    with database.session() as session:
        session.execute(text("TRUNCATE reports CASCADE"))  # the index: one empty leaf page, the root
        _insert_zones(session, _zones(border, 50, seed=seed), "kept ")
        session.commit()
        # entries of an aborted insert: dead to every scan at once, whatever other sessions run
        _insert_zones(session, _zones(border, 100, seed=seed + 2), "aborted ")
        session.rollback()
    with database.session() as reader, database.session() as writer:
        reader.execute(text("SET LOCAL enable_seqscan = off"))
        reader.execute(text("SET LOCAL enable_bitmapscan = off"))
        reader.execute(text(
            "DECLARE cells NO SCROLL CURSOR FOR SELECT (SELECT sum(ST_NPoints(r.geometry)) FROM reports r "
            "WHERE r.geometry && e.box) FROM (SELECT ST_Transform(ST_Envelope(clip), 4326) AS box "
            "FROM commune_cells WHERE nis_code IN (:a, :b) ORDER BY i, j OFFSET 0) e"),
            {"a": CHARLEROI, "b": CHATELET})
        reader.execute(text("FETCH 100 FROM cells")).all()
        _insert_zones(writer, _zones(border, 250, seed=seed + 1), "split ")
        writer.commit()
        reader.execute(text("FETCH ALL FROM cells")).all()
        reader.commit()
        return _gist_hides_reports(reader)


def test_reports_hidden_from_the_gist_index_still_count(database, border) -> None:  # noqa: ANN001
    """The cause of the old shortfall, directly. PostgreSQL's GiST can hide live reports from
    every later scan of the reports' spatial index (see
    :mod:`geosignal.services.aggregation.stored_sql`); cells recomputed through that index
    stored areas below the recomputation. With reports hidden from it, a reload of both
    communes concurrent with writers and the writers' own recomputations still equal a full
    recomputation (which reads the reports without an index)."""
    hidden = 0
    for attempt in range(3):
        hidden = _split_the_gist_root_under_a_rescanning_reader(database, border, seed=20 + 10 * attempt)
        if hidden:
            break
    if not hidden:
        pytest.skip("PostgreSQL did not hide reports from the GiST index in 3 attempts (a PostgreSQL "
                    "without the hazard, or kill hints not recorded this time)")
    try:
        zones = _zones(border, 24, seed=60)

        def reload(session) -> None:  # noqa: ANN001
            aggregation.rebuild_communes(session, [CHARLEROI, CHATELET])
            session.commit()

        run_together(database, [_add_job(zones[w::4], 1000 + 100 * w) for w in range(4)] + [reload])
        stored = _assert_stored_equals_recomputed(database)
        with database.session() as session:
            assert _gist_hides_reports(session) == hidden  # still hidden: the figures did not need it
            counted = session.scalar(text("SELECT count(*) FROM reports WHERE status IN ('submitted', 'validated')"))
        assert sum(r["report_count"] for r in stored.values()) == counted == 50 + 250 + 24
    finally:
        with database.session() as session:
            session.execute(text("REINDEX INDEX idx_reports_geometry"))
            session.commit()


def test_migration_keeps_a_frozen_copy_of_the_stats_sql() -> None:
    """The newest migration holding a ``STATS_SQL`` (0005, 0009 for the workflow's counted
    statuses, 0014 for the index-free reads) installs the functions and triggers from its own
    frozen text, equal to what the code generates, and imports no live code."""
    import importlib.util
    from pathlib import Path

    from geosignal.services.aggregation.stored_sql import stats_sql

    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    holders = [p for p in sorted(versions.glob("*.py")) if "\nSTATS_SQL = " in p.read_text(encoding="utf-8")]
    assert [p.name[:4] for p in holders][:3] == ["0005", "0009", "0014"]
    path = holders[-1]
    spec = importlib.util.spec_from_file_location(f"migration_{path.name[:4]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.STATS_SQL.strip() == stats_sql().strip()
    assert "geosignal" not in path.read_text(encoding="utf-8").split('"""', 2)[2].split("STATS_SQL")[0]


def _inside(database: Database, nis: str) -> tuple[float, float]:
    """A point well inside commune ``nis`` (lon, lat)."""
    with database.session() as session:
        return tuple(session.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) AS p FROM communes "
            "WHERE nis_code = :n) q"), {"n": nis}).one())


def test_a_save_correcting_and_adding_reports_and_a_commune_reload_do_not_deadlock(database) -> None:  # noqa: ANN001
    """A concurrency trial: a save whose corrected row lies in Courcelles (52015) took that
    commune's row, then waited for the mobile zone lock (a job held it) before its new row of
    Charleroi (52011) took 52011's; a commune reload, taking every commune in NIS order, held
    52011 and waited for 52015: a deadlock (the reload failed, or the upload got a 500). The
    save now takes its locks first, in the writers' order."""
    from geosignal.services.imports import import_file
    from geosignal.services.intake import Limits, ServiceArea

    area = ServiceArea.from_geojson_file(COMMUNES_FILE)
    (lon1, lat1), (lon2, lat2) = _inside(database, "52015"), _inside(database, CHARLEROI)
    tag = uuid.uuid4().hex[:8]

    def csv(rows: list[tuple[float, float, int]]) -> bytes:
        return ("latitude;longitude;menages;description\r\n" + "".join(
            f"{lat:.6f};{lon:.6f};{h};p {tag}\r\n" for lon, lat, h in rows)).encode()

    def save(data: bytes, name: str, **options) -> None:  # noqa: ANN003
        with database.session() as session:
            user = session.query(User).filter_by(email="race@igretec.com").one()
            outcome = import_file(session, user, data, name, area=area, limits=Limits(), default_network="mobile",
                                  **options)
            session.commit()
            results.append((name, outcome.saved, outcome.corrected))

    results: list[tuple] = []
    save(csv([(lon1, lat1, 3)]), "premier.csv")
    job = database.session()  # a job holding the mobile zone lock
    job.execute(text("SELECT zones_lock(ARRAY['mobile']::varchar[])"))
    failures: list[BaseException] = []

    def run(fn) -> Callable[[], None]:  # noqa: ANN001
        def target() -> None:
            try:
                fn()
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)
        return target

    def reload() -> None:
        from geosignal.services.communes import load_communes

        with database.session() as session:
            load_communes(session, COMMUNES_FILE)
            session.commit()
            results.append(("reload",))

    import threading
    import time

    upload = threading.Thread(target=run(lambda: save(csv([(lon1, lat1, 4), (lon2, lat2, 1)]), "second.csv",
                                                      correct_saved_before=True)))
    upload.start()
    time.sleep(1.0)  # the upload waits for the mobile lock
    reloading = threading.Thread(target=run(reload))
    reloading.start()
    time.sleep(1.0)
    job.commit()
    job.close()
    upload.join(timeout=60)
    reloading.join(timeout=60)
    assert failures == [], failures
    assert sorted(results) == [("premier.csv", 1, 0), ("reload",), ("second.csv", 1, 1)]
    _assert_stored_equals_recomputed(database)


def _lambert_to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    return reproject(geom, LAMBERT72, WGS84)


def _chunked_roads(tag: str) -> tuple[bytes, LineString]:
    """A CSV of four mobile roads near Charleroi's centre: two in a 1 km cell B, then two in the
    cell A to its west (A < B in (nis, i, j) order); and a fixed road spanning A and B."""
    from tests.factories import CHARLEROI_LAMBERT72

    x, y = CHARLEROI_LAMBERT72
    ex, ey = round(x / 1000) * 1000, round(y / 1000) * 1000
    rows = [LineString([(ex + 200 + 30 * k, ey + 300), (ex + 400 + 30 * k, ey + 350)]) for k in range(2)]
    rows += [LineString([(ex - 400 - 30 * k, ey + 300), (ex - 200 - 30 * k, ey + 350)]) for k in range(2)]
    csv = "wkt;network;description\r\n" + "".join(
        f'"{_lambert_to_wgs84(g).wkt}";mobile;{tag} {k}\r\n' for k, g in enumerate(rows))
    return csv.encode(), LineString([(ex - 300, ey + 500), (ex + 300, ey + 520)])


def _lock_waiters(database: Database) -> int:
    with database.engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                              "AND datname = current_database()")).scalar_one()


def test_a_save_in_chunks_and_a_road_filed_between_them_both_succeed(database, monkeypatch) -> None:  # noqa: ANN001
    """A save stored in two INSERT statements (STORE_CHUNK shrunk to 2 for a 4-row file), and a
    fixed road spanning both chunks' cells filed between them: chunk 1 held cell B, the road
    took cell A and waited for B, chunk 2 needed A — a deadlock, the save rolled back. The
    save now locks every cell of its rows before its first chunk: the road waits for it, both
    are stored, and the stored figures equal a recomputation."""
    import threading
    import time

    from geosignal.services import imports as imports_service
    from geosignal.services.intake import Limits, ServiceArea

    _clear_reports(database)
    monkeypatch.setattr(imports_service, "STORE_CHUNK", 2)
    tag = f"chunk {uuid.uuid4().hex[:8]}"
    data, spanning = _chunked_roads(tag)
    area = ServiceArea.from_geojson_file(COMMUNES_FILE)
    other: dict = {}
    waited: list[bool] = []
    threads: list[threading.Thread] = []

    def file_road() -> None:
        with database.session() as s:
            try:
                reports_service.create_report(s, _admin(s), ReportInput(_lambert_to_wgs84(spanning),
                                                                         {"network": "fixed"}))
                s.commit()
                other["ok"] = True
            except BaseException as exc:  # noqa: BLE001 - reported below
                other["error"] = exc

    def progress(done: int, total: int) -> None:
        if 0 < done < total and not threads:  # between chunk 1 and chunk 2
            threads.append(threading.Thread(target=file_road))
            threads[0].start()
            deadline = time.monotonic() + 10
            while not _lock_waiters(database) and time.monotonic() < deadline:
                time.sleep(0.05)
            waited.append(bool(_lock_waiters(database)))
            time.sleep(1.5)  # the road waits longer than deadlock_timeout (1 s) before chunk 2

    with database.session() as session:
        outcome = imports_service.import_file(session, _admin(session), data, "roads.csv", area=area,
                                              limits=Limits(), progress=progress)
        session.commit()
    for t in threads:
        t.join(30)
    assert threads and waited == [True]  # the road came between the chunks, and waited for the save
    assert outcome.saved == 4
    assert other == {"ok": True}, other
    with database.session() as session:
        assert session.scalar(text("SELECT count(*) FROM reports WHERE description LIKE :t"), {"t": f"{tag}%"}) == 4
        assert session.scalar(text("SELECT count(*) FROM reports WHERE network = 'fixed'")) == 1
    _assert_stored_equals_recomputed(database)


def test_an_import_job_rolled_back_by_a_deadlock_runs_again(database, monkeypatch) -> None:  # noqa: ANN001
    """A job whose import is chosen as a deadlock's victim (a real one, on two advisory locks
    with another transaction) ended ``failed`` ``internal_error``, nothing saved, though a
    second run would save the file: it now runs again (JOB_ATTEMPTS), and ends ``done``."""
    import threading
    import time

    from geosignal import create_app
    from geosignal.services import imports as imports_service

    _clear_reports(database)
    tag = f"job {uuid.uuid4().hex[:8]}"
    data, _ = _chunked_roads(tag)
    app = create_app({"TESTING": True, "ENV": "testing", "SECRET_KEY": "test", "TILE_URL": "",
                      "DATABASE_URL": database.engine.url.render_as_string(hide_password=False)})
    with database.session() as session:
        job = imports_service.create_import_job(session, _admin(session), data, "roads.csv", {})
        session.commit()
        job_id = str(job.id)
    first, second = 0x66313001, 0x66313002
    real = imports_service.import_file
    calls: list[int] = []
    other_done: list[bool] = []

    def other() -> None:  # holds the second lock, then wants the first (the job holds it)
        with database.engine.connect() as c:
            c.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": second})
            holding.set()
            deadline = time.monotonic() + 10
            while not _lock_waiters(database) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # the job waits first: its deadlock check comes first, it is the victim
            c.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": first})
            c.commit()
            other_done.append(True)

    holding = threading.Event()
    thread = threading.Thread(target=other)

    def import_file(session, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 1:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": first})
            thread.start()
            holding.wait(10)
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": second})  # a deadlock
        return real(session, *args, **kwargs)

    monkeypatch.setattr(imports_service, "import_file", import_file)
    with app.app_context():
        state = imports_service.run_import_job(database, app.config, job_id)
    thread.join(30)
    app.extensions["geosignal.db"].engine.dispose()
    with database.session() as session:
        code, saved = session.execute(text(
            "SELECT error_code, (SELECT count(*) FROM reports WHERE description LIKE :t) FROM import_jobs "
            "WHERE id = :id"), {"id": job_id, "t": f"{tag}%"}).one()
    assert other_done == [True]
    assert (state, code, saved, len(calls)) == ("done", None, 4, 2)
    _assert_stored_equals_recomputed(database)
