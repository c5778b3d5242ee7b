"""Zones stay exact under real concurrent transactions (PostGIS, threads with their own
connections released together by a barrier): reports created from 16 threads that overlap
each other's, then creations, withdrawals, confirmations and splits racing. Afterwards the
stored zones equal a recomputation from the reports — and, with no decision taken, the
connected components computed independently in Python (shapely, pyproj)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator

import pytest
import shapely
from shapely.geometry import Point, box
from sqlalchemy import text

from geosignal.db import Database
from geosignal.devdb import scratch_database
from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import User
from geosignal.services import reports as reports_service
from geosignal.services import zones
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import COMMUNES_FILE, owner_session, run_together
from tests.factories import CHARLEROI_LAMBERT72

WRITERS = 16
X, Y = CHARLEROI_LAMBERT72


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    """A scratch database of its own (the 30 communes, an admin), with a pool for the writers."""
    with scratch_database("geosignal_test_zones", COMMUNES_FILE) as scratch:
        url = scratch.engine.url.render_as_string(hide_password=False)
        with scratch.session() as session:
            create_user(session, "zones@igretec.com", "admin", None, "correct horse battery")
            session.commit()
        db = Database(url, pool_size=WRITERS + 4, max_overflow=0)
        yield db
        db.engine.dispose()


def _shapes(n: int, seed: int) -> list[tuple[shapely.Geometry, str]]:
    """``n`` (EPSG:31370 geometry, network): points and 60 m squares in a 1.6 km × 0.4 km band
    of Charleroi (dense enough for long chains at 100 m), one in six of the fixed network."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        x, y = X + rng.uniform(0, 1600), Y - 2000 + rng.uniform(0, 400)
        geom = box(x, y, x + 60, y + 60) if k % 3 == 0 else Point(x, y)
        out.append((geom, "fixed" if k % 6 == 5 else "mobile"))
    return out


def _admin(session) -> User:  # noqa: ANN001
    return session.query(User).filter_by(email="zones@igretec.com").one()


def _add_job(shapes: list) -> Callable:
    def job(session) -> None:  # noqa: ANN001
        admin = _admin(session)
        for geom, network in shapes:
            g = shapely.orient_polygons(reproject(geom, LAMBERT72, WGS84))
            reports_service.create_report(session, admin, ReportInput(geometry=g, properties={
                "network": network, "technologies": ["4G"] if network == "mobile" else ["DSL"],
                "operators": ["Orange"], "description": f"race {uuid.uuid4()}"}))
            session.commit()
    return job


def _status_job(ids: list[str], status: str, reason: str | None = None) -> Callable:
    def job(session) -> None:  # noqa: ANN001
        from geosignal.errors import GeosignalError

        admin = _admin(session)
        for rid in ids:
            try:
                reports_service.set_status(session, admin, rid, status, reason)
                session.commit()
            except GeosignalError as err:  # another writer moved it first: a fair answer
                assert err.code == "invalid_transition", err
                session.rollback()
    return job


def _decision_job(kind: str, zone_ids: list[int]) -> Callable:
    def job(session) -> None:  # noqa: ANN001
        from geosignal.errors import GeosignalError

        admin = _admin(session)
        for zid in zone_ids:
            try:
                if kind == "confirm":
                    zones.confirm_zone(session, admin, zid)
                else:
                    members = zones.get_zone(session, admin, zid)["properties"]["report_ids"]
                    zones.split_zone(session, admin, zid, members[-1:])
                session.commit()
            except GeosignalError as err:  # the zone changed or went meanwhile: a fair answer
                assert err.code in ("not_found", "zone_changed", "invalid_split"), err
                session.rollback()
    return job


def _clear(database: Database) -> None:
    with owner_session(database) as session:
        session.execute(text("DELETE FROM reports"))
        session.execute(text("DELETE FROM zone_decisions"))
        session.commit()


def _stored(database: Database) -> set:
    with database.session() as session:
        return zones.grouping(session)


def _place_figures_agree(database: Database) -> dict:
    """The stored place figures (zone_counts) equal the ones computed from the zones; returns them."""
    with database.session() as session:
        stored, live = zones.zone_figures(session), zones.zone_figures_live(session)
    assert stored == live
    return stored


def _recomputed(database: Database) -> set:
    with database.session() as session:
        zones.recompute_all(session)
        result = zones.grouping(session)
        session.rollback()
    return result


def _components_in_python(database: Database, distance_m: float = zones.DEFAULT_DISTANCE_M) -> set:
    """Connected components of the counted reports computed in Python: zones sharing a
    positive area, or within ``distance_m`` (EPSG:31370 through pyproj); union-find."""
    with database.session() as session:
        rows = session.execute(text(
            "SELECT id::text, network, ST_AsBinary(geometry) FROM reports "
            "WHERE status NOT IN ('draft', 'rejected', 'withdrawn', 'resolved') ORDER BY seq")).all()
    ids = [r[0] for r in rows]
    geoms = [reproject(shapely.from_wkb(bytes(r[2])), WGS84, LAMBERT72) for r in rows]
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree = shapely.STRtree(geoms)
    for i, j in zip(*tree.query(geoms, predicate="dwithin", distance=distance_m), strict=True):
        if i >= j or rows[i][1] != rows[j][1]:
            continue
        a, b = geoms[i], geoms[j]
        linked = a.relate_pattern(b, "2********") if a.geom_type == b.geom_type == "Polygon" else True
        if linked:
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(find(i), []).append(i)
    return {(rows[g[0]][1], "proposed", frozenset(ids[i] for i in g)) for g in groups.values() if len(g) >= 2}


def test_sixteen_writers_creating_overlapping_reports(database) -> None:  # noqa: ANN001
    _clear(database)
    shapes = _shapes(WRITERS * 8, seed=11)
    run_together(database, [_add_job(shapes[w::WRITERS]) for w in range(WRITERS)])
    stored = _stored(database)
    assert stored == _recomputed(database)
    assert stored == _components_in_python(database)
    figures = _place_figures_agree(database)
    assert sum(f["zone_group_count"] for f in figures.values()) == len(stored)
    # the band is dense: long chains made of several writers' reports
    assert max(len(m) for _, _, m in stored) >= 10
    assert {n for n, _, _ in stored} == {"mobile", "fixed"}


def test_creations_withdrawals_and_decisions_racing(database) -> None:  # noqa: ANN001
    _clear(database)
    run_together(database, [_add_job(_shapes(64, seed=12))])
    with database.session() as session:
        ids = [str(i) for i in session.scalars(text("SELECT id FROM reports ORDER BY seq"))]
        zone_ids = list(session.scalars(text("SELECT id FROM zones ORDER BY id")))
    assert len(zone_ids) >= 4
    shapes = _shapes(64, seed=13)
    jobs = [_add_job(shapes[w::8]) for w in range(8)]
    jobs += [_status_job(ids[k::9], s, "motif") for k, s in enumerate(["withdrawn", "rejected", "validated", "needs_info"])]
    jobs.append(_status_job(ids[0::9], "rejected", "motif"))  # races the first withdrawer on the same reports
    jobs.append(_decision_job("confirm", zone_ids[0::2]))
    jobs.append(_decision_job("split", zone_ids[1::2]))
    run_together(database, jobs)
    stored = _stored(database)
    assert stored == _recomputed(database)
    figures = _place_figures_agree(database)
    assert sum(f["confirmed_zone_group_count"] for f in figures.values()) == sum(s == "confirmed" for _, s, _ in stored)
    states = {s for _, s, _ in stored}
    assert states == {"proposed", "confirmed"}
    with database.session() as session:
        counted = session.scalar(text("SELECT count(*) FROM zone_reports zr JOIN reports r ON r.id = zr.report_id "
                                      "WHERE r.status IN ('withdrawn', 'rejected')"))
        apart = session.scalar(text("SELECT count(*) FROM zone_decisions WHERE kind = 'apart'"))
    assert counted == 0 and apart >= 1


def _square(session, x: float, y: float, network: str, side: float = 120.0) -> str:  # noqa: ANN001
    g = shapely.orient_polygons(reproject(box(x, y, x + side, y + side), LAMBERT72, WGS84))
    feature, _created = reports_service.create_report(session, _admin(session), ReportInput(geometry=g, properties={
        "network": network, "technologies": ["4G"] if network == "mobile" else ["DSL"], "operators": ["Orange"],
        "description": f"move {uuid.uuid4()}"}))
    return str(feature["id"])


def test_a_report_moved_to_another_network_leaves_its_cohort_and_no_pass_writes_that_network(database) -> None:  # noqa: ANN001, E501
    """A concurrency trial: B, in a confirmed mobile zone, was changed to the fixed network and
    stayed in the mobile decision. A mobile writer's pass then reached B through it and rewrote
    the fixed zones and counts without the fixed lock; racing a fixed writer that held it, the
    mobile request ended in a unique violation of ``zone_counts`` (HTTP 500)."""
    _clear(database)
    x, y = X + 3000, Y - 3000
    with database.session() as session:
        a, b = _square(session, x, y, "mobile"), _square(session, x + 60, y, "mobile")
        session.commit()
        (zone_id,) = session.scalars(text("SELECT id FROM zones")).all()
        zones.confirm_zone(session, _admin(session), zone_id)
        session.commit()
        session.execute(text("UPDATE reports SET network = 'fixed', technologies = '{DSL}' WHERE id = :b"), {"b": b})
        session.commit()
        # B left the mobile cohort: a decision is one network's
        left = session.execute(text("SELECT k.network FROM zone_decision_reports d JOIN zone_decisions k "
                                    "ON k.id = d.decision_id WHERE d.report_id = :b"), {"b": b}).all()
        assert left == []
        _square(session, x + 60, y + 100, "fixed")  # B and this one: a fixed zone, counted
        session.commit()
    # a mobile writer's pass (C joins A's confirmed zone) writes no row of the fixed network:
    # those rows are the fixed lock holders' (the trial's 500 came from that write racing one)
    fixed_rows = text("SELECT 'zone', id::text, xmin::text, ctid::text FROM zones WHERE network = 'fixed' UNION ALL "
                      "SELECT 'count', nis_code, xmin::text, ctid::text FROM zone_counts WHERE network = 'fixed' "
                      "ORDER BY 1, 2")
    with database.session() as session:
        before = session.execute(fixed_rows).all()
        assert [r[0] for r in before].count("zone") == 1 and [r[0] for r in before].count("count") >= 1
        _square(session, x - 60, y, "mobile")  # next to A
        session.commit()
        assert session.execute(fixed_rows).all() == before
    assert _stored(database) == _recomputed(database)
    _place_figures_agree(database)
    with database.session() as session:
        assert session.scalar(text("SELECT count(*) FROM reports")) == 4
        assert session.scalar(text(
            "SELECT count(*) FROM zone_decision_reports d JOIN zone_decisions k ON k.id = d.decision_id "
            "JOIN reports r ON r.id = d.report_id WHERE k.network <> r.network")) == 0
        assert a in [str(i) for i in session.scalars(text(
            "SELECT zr.report_id FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id WHERE z.state = 'confirmed'"))]


def _homes(database: Database, *, recomputed: bool = False) -> set:
    """Each zone as (network, state, home commune, report ids), stored or after a full regrouping
    (rolled back)."""
    with database.session() as session:
        if recomputed:
            zones.recompute_all(session)
        rows = session.execute(text(
            "SELECT z.network, z.state, z.commune_nis, array_agg(zr.report_id::text) FROM zones z "
            "JOIN zone_reports zr ON zr.zone_id = z.id GROUP BY z.id")).all()
        session.rollback()
    return {(r[0], r[1], r[2], frozenset(r[3])) for r in rows}


def test_writers_across_a_border_racing_loads_that_move_it(database, tmp_path) -> None:  # noqa: ANN001
    """Eight writers file squares and points around the Charleroi/Châtelet border, two withdraw
    and confirm, while an administrator loads a boundary file that gives Châtelet a square
    across the border, then the original, then the moved one again (each load measures again,
    under every network's lock, the homes of the zones it crosses). Zones filed before inside
    the square, which no writer touches, have their home on both sides before and in Châtelet
    after. Afterwards every zone's members, state and home commune, the places each commune
    counts and the commune figures equal a recomputation."""
    from geosignal.services.communes import load_communes
    from tests.factories import border_point, communes_file_with_border_moved
    from tests.test_concurrency import _assert_stored_equals_recomputed

    _clear(database)
    with database.session() as session:
        x, y = border_point(session)
    moved = communes_file_with_border_moved(COMMUNES_FILE, tmp_path / "moved.geojson",
                                            box(x - 300, y - 300, x + 300, y + 300), "52012")
    rng = random.Random(21)

    def ring(n: int) -> list:  # 450–900 m from the border point: never within 100 m of the square's zones
        out = []
        while len(out) < n:
            px, py = x + rng.uniform(-900, 900), y + rng.uniform(-900, 900)
            if max(abs(px - x), abs(py - y)) >= 450:
                k = len(out)
                out.append((box(px - 60, py - 60, px + 60, py + 60) if k % 2 else Point(px, py),
                            "fixed" if k % 4 == 3 else "mobile"))
        return out

    inside = []  # pairs of 80 m squares overlapping, 120 m apart, within 200 m of the border point
    for k, (dx, dy) in enumerate([(-160, -160), (0, -160), (160, -160), (-160, 0), (160, 0), (-160, 160), (0, 160),
                                  (160, 160)]):
        for shift in (0, 20):
            inside.append((box(x + dx - 40 + shift, y + dy - 40, x + dx + 40 + shift, y + dy + 40),
                           "fixed" if k % 2 else "mobile"))
    run_together(database, [_add_job(inside)])
    before = _homes(database)
    assert len(before) == 8 and {h for _, _, h, _ in before} == {"52011", "52012"}, before
    run_together(database, [_add_job(ring(24))])
    with database.session() as session:
        ids = [str(i) for i in session.scalars(text("SELECT id FROM reports ORDER BY seq OFFSET 16"))]
        zone_ids = list(session.scalars(text(
            "SELECT id FROM zones z WHERE NOT EXISTS (SELECT 1 FROM zone_reports zr WHERE zr.zone_id = z.id "
            "AND zr.report_id IN (SELECT id FROM reports ORDER BY seq LIMIT 16)) ORDER BY id")))

    def reload(session) -> None:  # noqa: ANN001
        for path in (moved, COMMUNES_FILE, moved):
            load_communes(session, path)
            session.commit()

    jobs = [_add_job(ring(6)) for _ in range(8)]
    jobs += [_status_job(ids[0::5], "withdrawn"), _decision_job("confirm", zone_ids[0::2]), reload]
    try:
        run_together(database, jobs)
        stored = _homes(database)
        assert stored == _homes(database, recomputed=True)
        assert {h for _, _, h, m in stored if m in {m for _, _, _, m in before}} == {"52012"}
        _place_figures_agree(database)
        _assert_stored_equals_recomputed(database)
    finally:
        with database.session() as session:
            load_communes(session, COMMUNES_FILE)
            session.commit()
