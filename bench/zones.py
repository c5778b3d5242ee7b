"""Benchmark of zone grouping (reports of one network that overlap, or lie within 100 m).

On a fresh database cloned from the template (the 30 communes), a seeded generator puts N
points and M small squares (60–120 m) in a 12 km × 12 km block around Charleroi's centre
(dense enough for chains: ~2 neighbours within 100 m per point at N = 20,000), then times:

  (a) the load a set-wise import makes — one ``INSERT … SELECT`` of every report, with every
      ``reports`` trigger on (stored Features, figures, zones) — against
  (a') the same load with the zone triggers off: the zones' share of an import;
  (b) one report filed through the service (``reports.create_report`` + commit, what
      ``POST /api/v1/reports`` runs) into the loaded database, median of 30, against (b') the
      same with the zone triggers off (a new report joins the zones it touches whole:
      ``zones_grow``);
  (d) one report of the largest zone withdrawn (``reports.set_status`` + commit; the zone
      shrinks in place, its union made again in a box around the report), median of 5 (3
      with ``--quick``); then stored zones are checked against a recomputation;
  (e) one report filed next to the largest zone once the referent has confirmed it
      (``zones.confirm_zone``, then ``reports.create_report`` + commit): the report joins the
      confirmed zone (the joining rule), median of 5 (3 with ``--quick``), then stored zones
      are checked against a recomputation;
  (f) one report of that confirmed zone withdrawn (``reports.set_status`` + commit), median of
      5 (3 with ``--quick``), then stored zones are checked against a recomputation;
  (g) one report filed again over a square of the largest zone (its geometry: a second
      representative reporting the same place; the zone covers it already, its union is kept),
      median of 5 (3 with ``--quick``), then (h) each withdrawn again (its twin still covers
      it), median, then stored zones are checked against a recomputation;
  (i) one square of the largest zone (before (e) confirms it) moved 5 m through the edit path
      (``reports.edit_report`` + commit): it leaves its zone from where it was and joins it
      again where it is (``zones_shrink`` then ``zones_grow``), median of 5 (3 with
      ``--quick``); then stored zones are checked against a recomputation (with (b), (d)–(h));
  (j) 20 reports of the largest zone rejected in one statement (``workflow.transition_many``
      + commit: the referent's bulk rejection; since migration 0038 the zone shrinks 8 at a
      time) against (j') the same 20 rejected with the zone trigger off and their zone
      regrouped in full (``zones_regroup``: what a bulk transition of more than 8 did before
      0038), rolled back; median of 3 each, alternated; stored zones checked after (j);
  (c) ``zones.recompute_all`` (what ``geosignal regroup-zones`` runs: every report regrouped)
      against (c') the best hand-written SQL for the same partition of the points alone:
      ``ST_ClusterDBSCAN(…, eps := 100, minpoints := 1) OVER (PARTITION BY network)`` in
      EPSG:31370 (DBSCAN with one point per cluster is exactly the 100 m components of
      points; it cannot express the positive-area rule of zones, so (c) and (c') run on a
      points-only load), and checks that both give the same zones.

Prints each figure and the ratios. ``--quick``: 5,000 points + 500 squares (< 1 min).

    python bench/zones.py --quick
    python bench/zones.py --points 100000 --polygons 10000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from geosignal.devdb import scratch_database  # noqa: E402
from geosignal.geo import LAMBERT72, WGS84, transform_xy  # noqa: E402

COMMUNES = ROOT.parent / "shared" / "data" / "communes_charleroi_metropole.geojson"
X0, Y0 = 155348.97, 122214.95  # Charleroi's centre, EPSG:31370
SIDE = 12_000.0
ZONE_TRIGGERS = ("reports_group_zones_insert", "reports_group_zones_update", "reports_group_zones_delete")


def generate(n_points: int, n_polygons: int, seed: int) -> tuple[list[str], list[str]]:
    """Return (EWKT in EPSG:4326, network) of the reports, seeded; one in six fixed."""
    rng = np.random.default_rng(seed)
    xy = np.column_stack([X0 - SIDE / 2 + rng.random(n_points + n_polygons) * SIDE,
                          Y0 - SIDE / 2 + rng.random(n_points + n_polygons) * SIDE])
    side = 60 + rng.random(n_polygons) * 60
    ewkt = []
    lonlat = transform_xy(xy[:n_points], LAMBERT72, WGS84)
    ewkt += [f"SRID=4326;POINT({x:.9f} {y:.9f})" for x, y in lonlat]
    for (x, y), s in zip(xy[n_points:], side, strict=True):
        ring = transform_xy(np.array([(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)]), LAMBERT72, WGS84)
        ewkt.append("SRID=4326;POLYGON((" + ",".join(f"{a:.9f} {b:.9f}" for a, b in ring) + "))")
    networks = ["fixed" if k % 6 == 5 else "mobile" for k in range(len(ewkt))]
    return ewkt, networks


def load(session, ewkt: list[str], networks: list[str]) -> float:  # noqa: ANN001
    """Insert every report in one ``INSERT … SELECT`` (as a set-wise import does); seconds."""
    started = time.perf_counter()
    session.execute(text("""
        INSERT INTO reports (id, geometry, commune_nis, network, technologies, operators, description)
        SELECT gen_random_uuid(), ST_GeomFromEWKT(g), '52011', n, ARRAY['4G']::varchar[], ARRAY['Orange']::varchar[], ''
        FROM unnest(CAST(:g AS text[]), CAST(:n AS varchar[])) AS x(g, n)"""), {"g": ewkt, "n": networks})
    session.commit()
    return time.perf_counter() - started


def zone_triggers(session, on: bool) -> None:  # noqa: ANN001
    for name in ZONE_TRIGGERS:
        session.execute(text(f"ALTER TABLE reports {'ENABLE' if on else 'DISABLE'} TRIGGER {name}"))
    session.commit()


def clear(session) -> None:  # noqa: ANN001
    session.execute(text("TRUNCATE reports CASCADE"))
    session.commit()


def one_report_ms(session, admin, repeat: int, seed: int) -> float:  # noqa: ANN001
    """Median ms of filing one small zone through the service and committing."""
    import shapely

    from geosignal.geo import reproject
    from geosignal.services import reports as reports_service
    from geosignal.services.intake import ReportInput

    rng = np.random.default_rng(seed)
    times = []
    for _ in range(repeat):
        x, y = X0 - 3000 + rng.random() * 6000, Y0 - 3000 + rng.random() * 6000
        geom = shapely.orient_polygons(reproject(shapely.box(x, y, x + 80, y + 80), LAMBERT72, WGS84))
        started = time.perf_counter()
        reports_service.create_report(session, admin, ReportInput(geometry=geom, properties={
            "network": "mobile", "technologies": ["4G"], "operators": ["Orange"], "description": str(uuid.uuid4())}))
        session.commit()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def withdraw_from_largest_ms(session, admin, repeat: int) -> tuple[float, int]:  # noqa: ANN001
    """Median ms of withdrawing one report of the largest zone through the service and
    committing (the zone is regrouped in full); and that zone's size before."""
    from geosignal.services import reports as reports_service

    size = session.scalar(text("SELECT max(report_count) FROM zones"))
    times = []
    for _ in range(repeat):
        report_id = session.scalar(text(
            "SELECT zr.report_id::text FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id "
            "ORDER BY z.report_count DESC, zr.report_id LIMIT 1"))
        started = time.perf_counter()
        reports_service.set_status(session, admin, report_id, "withdrawn")
        session.commit()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), size


def join_confirmed_ms(session, admin, repeat: int) -> tuple[float, int]:  # noqa: ANN001
    """Median ms of filing one report next to the largest zone once it is confirmed (through
    the service, committed); and that zone's size when confirmed. Each report is a point 40 m
    (EPSG:31370) east of a member point of the zone, so it joins the confirmed zone."""
    import shapely

    from geosignal.geo import reproject
    from geosignal.services import reports as reports_service
    from geosignal.services import zones
    from geosignal.services.intake import ReportInput

    zone_id, size = session.execute(text(
        "SELECT id, report_count FROM zones WHERE network = 'mobile' ORDER BY report_count DESC, id LIMIT 1")).one()
    zones.confirm_zone(session, admin, zone_id)
    session.commit()
    points = session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(r.geometry, 31370) AS p FROM zone_reports zr "
        "JOIN reports r ON r.id = zr.report_id WHERE zr.zone_id = :z AND GeometryType(r.geometry) = 'POINT' "
        "ORDER BY r.seq LIMIT :n) s"), {"z": zone_id, "n": repeat}).all()
    times = []
    for x, y in points:
        geom = reproject(shapely.Point(x + 40, y), LAMBERT72, WGS84)
        started = time.perf_counter()
        report, _ = reports_service.create_report(session, admin, ReportInput(geometry=geom, properties={
            "network": "mobile", "technologies": ["4G"], "operators": ["Orange"], "description": str(uuid.uuid4())}))
        session.commit()
        times.append((time.perf_counter() - started) * 1000)
        joined = session.execute(text(
            "SELECT z.state FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id "
            "WHERE zr.report_id = CAST(:r AS uuid)"), {"r": str(report["id"])}).scalar()
        if joined != "confirmed":
            sys.exit(f"the report filed next to the confirmed zone is in no confirmed zone ({joined})")
    return statistics.median(times), size


def withdraw_from_confirmed_ms(session, admin, repeat: int) -> tuple[float, int]:  # noqa: ANN001
    """Median ms of withdrawing one report of the largest confirmed zone (its oldest members
    first: the referent's cohort) through the service, committed; and the zone's size."""
    from geosignal.services import reports as reports_service

    zone_id, size = session.execute(text(
        "SELECT id, report_count FROM zones WHERE state = 'confirmed' ORDER BY report_count DESC, id LIMIT 1")).one()
    times = []
    for _ in range(repeat):
        report_id = session.scalar(text(
            "SELECT zr.report_id::text FROM zone_reports zr JOIN reports r ON r.id = zr.report_id "
            "WHERE zr.zone_id = :z ORDER BY r.seq LIMIT 1"), {"z": zone_id})
        started = time.perf_counter()
        reports_service.set_status(session, admin, report_id, "withdrawn")
        session.commit()
        times.append((time.perf_counter() - started) * 1000)
        if session.scalar(text("SELECT state FROM zones WHERE id = :z"), {"z": zone_id}) != "confirmed":
            sys.exit("the confirmed zone is gone after a withdrawal")
    return statistics.median(times), size


def zone_measures(session) -> dict[frozenset[str], tuple[float, float]]:  # noqa: ANN001
    """Each zone by its members: (area m², length m) of its union, in EPSG:31370."""
    rows = session.execute(text(
        "SELECT array_agg(zr.report_id::text), "
        "ST_Area(ST_Transform(ST_CollectionExtract(z.geometry, 3), 31370)), "
        "ST_Length(ST_Transform(ST_CollectionExtract(z.geometry, 2), 31370)) "
        "FROM zones z JOIN zone_reports zr ON zr.zone_id = z.id GROUP BY z.id"))
    return {frozenset(r[0]): (r[1], r[2]) for r in rows}


def filed_again_ms(session, admin, repeat: int) -> tuple[float, float]:  # noqa: ANN001
    """Median ms of filing one report with the geometry of a square of the largest zone (through
    the service, committed), and of withdrawing each of those again."""
    import json

    import shapely

    from geosignal.services import reports as reports_service
    from geosignal.services.intake import ReportInput

    squares = session.execute(text(
        "SELECT ST_AsGeoJSON(r.geometry, 17) FROM zone_reports zr JOIN reports r ON r.id = zr.report_id "
        "WHERE zr.zone_id = (SELECT id FROM zones ORDER BY report_count DESC, id LIMIT 1) "
        "AND ST_Dimension(r.geometry) = 2 ORDER BY r.seq LIMIT :n"), {"n": repeat}).scalars().all()
    filed, ids = [], []
    for geojson in squares:
        started = time.perf_counter()
        created, _ = reports_service.create_report(session, admin, ReportInput(
            geometry=shapely.geometry.shape(json.loads(geojson)), properties={
                "network": "mobile", "technologies": ["4G"], "operators": ["Orange"],
                "description": str(uuid.uuid4())}))
        session.commit()
        filed.append((time.perf_counter() - started) * 1000)
        ids.append(created["id"])
    withdrawn = []
    for report_id in ids:
        started = time.perf_counter()
        reports_service.set_status(session, admin, report_id, "withdrawn")
        session.commit()
        withdrawn.append((time.perf_counter() - started) * 1000)
    return statistics.median(filed), statistics.median(withdrawn)


def moved_ms(session, admin, repeat: int) -> tuple[float, int]:  # noqa: ANN001
    """Median ms of moving one square of the largest proposed zone 5 m east through the edit
    path (``reports.edit_report`` with its ETag + commit, what ``PUT /api/v1/reports/<id>``
    runs: it leaves its zone from where it was and joins it again where it is); and the
    zone's size."""
    zone_id, size = session.execute(text(
        "SELECT id, report_count FROM zones WHERE state = 'proposed' ORDER BY report_count DESC, id LIMIT 1")).one()
    ids = session.execute(text(
        "SELECT r.id::text FROM zone_reports zr JOIN reports r ON r.id = zr.report_id "
        "WHERE zr.zone_id = :z AND ST_Dimension(r.geometry) = 2 ORDER BY r.seq LIMIT :n"),
        {"z": zone_id, "n": repeat}).scalars().all()
    times = [1000 * move_east(session, admin, report_id, 5.0) for report_id in ids]
    return statistics.median(times), size


def bulk_rejected_ms(session, admin, repeat: int, n: int = 20) -> tuple[float, float, int, int]:  # noqa: ANN001
    """Median ms of (j) ``n`` reports (fewer in a smaller zone: all of it but 2; drawn by id,
    i.e. at random over the zone) of the largest proposed zone rejected in one statement
    (``workflow.transition_many`` + commit) and of (j') the same statement with the zone
    trigger off then their zone regrouped in full (``zones_regroup``), rolled back; alternated,
    (j') first on the same reports; the zone's size and the number rejected (the last run's)."""
    from geosignal.services import workflow as workflow_service

    times, anchors = [], []
    size = in_place = 0
    for _ in range(repeat):
        zone_id, size = session.execute(text(
            "SELECT id, report_count FROM zones WHERE state = 'proposed' ORDER BY report_count DESC, id LIMIT 1")).one()
        ids = session.execute(text(
            "SELECT r.id::text FROM zone_reports zr JOIN reports r ON r.id = zr.report_id "
            "WHERE zr.zone_id = :z AND r.status = 'submitted' ORDER BY zr.report_id LIMIT :n"),
            {"z": zone_id, "n": min(n, size - 2)}).scalars().all()
        session.commit()
        started = time.perf_counter()
        session.execute(text("ALTER TABLE reports DISABLE TRIGGER reports_group_zones_update"))
        workflow_service.transition_many(session, ids, "rejected", admin, "Motif du banc d'essai")
        session.execute(text("SELECT zones_lock(ARRAY['mobile', 'fixed']::varchar[]), "
                             "zones_regroup(CAST(:i AS uuid[]))"), {"i": ids})
        anchors.append((time.perf_counter() - started) * 1000)
        session.rollback()
        started = time.perf_counter()
        done = workflow_service.transition_many(session, ids, "rejected", admin, "Motif du banc d'essai")
        session.commit()
        times.append((time.perf_counter() - started) * 1000)
        assert len(done["moved"]) == len(ids)
        # the last shrink's leaving reports stay in the work table (a full regrouping empties it)
        in_place += session.scalar(text("SELECT count(*) FROM pg_temp.zone_work WHERE gen = -1")) > 0
    print(f"     (j) shrank the zone in place {in_place} time(s) of {repeat}")
    return statistics.median(times), statistics.median(anchors), size, len(ids)


def move_east(session, admin, report_id: str, metres: float, after: object = None) -> float:  # noqa: ANN001
    """Move a report ``metres`` east (EPSG:31370) through the edit path, as the edit page or
    ``PATCH /api/v1/reports/<id>`` does (``reports.edit_report`` with its ETag) and commit;
    ``after`` (a callable), when given, runs in the timed span too (a read of the stats).
    Returns the seconds from the edit to the end of ``after``; reading the report and building
    its new geometry are not timed."""
    import shapely
    from shapely import affinity

    from geosignal.geo import reproject
    from geosignal.services import reports as reports_service
    from geosignal.services import workflow as workflow_service
    from geosignal.services.intake import ReportInput

    feature = reports_service.get_report(session, admin, report_id)
    geom = reproject(shapely.geometry.shape(feature["geometry"]), WGS84, LAMBERT72)
    moved = shapely.orient_polygons(reproject(affinity.translate(geom, metres, 0), LAMBERT72, WGS84))
    props = {k: v for k, v in reports_service.current_input(feature).items() if k != "observed_at"}
    started = time.perf_counter()
    reports_service.edit_report(session, admin, report_id, ReportInput(moved, props),
                                if_match=workflow_service.etag(feature["properties"]["revision"]))
    session.commit()
    if after is not None:
        after()
    return time.perf_counter() - started


def dbscan_partition(session) -> tuple[float, set]:  # noqa: ANN001
    started = time.perf_counter()
    rows = session.execute(text("""
        SELECT network, c, array_agg(id::text) FROM (
          SELECT id, network, ST_ClusterDBSCAN(ST_Transform(geometry, 31370), eps := 100, minpoints := 1)
                 OVER (PARTITION BY network) AS c FROM reports) s
        GROUP BY network, c HAVING count(*) >= 2""")).all()
    elapsed = time.perf_counter() - started
    return elapsed, {(r[0], "proposed", frozenset(r[2])) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--polygons", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="5,000 points + 500 squares")
    parser.add_argument("--repeat", type=int, default=30, help="single reports timed for (b)")
    args = parser.parse_args()
    if args.quick:
        args.points, args.polygons, args.repeat = 5_000, 500, 15

    from geosignal.models import User
    from geosignal.services import zones
    from geosignal.services.users import create_user

    ewkt, networks = generate(args.points, args.polygons, seed=7)
    print(f"{args.points:,} points + {args.polygons:,} squares in a {SIDE / 1000:g} km block around Charleroi")
    with scratch_database("geosignal_bench_zones", COMMUNES) as database, database.session() as session:
        create_user(session, "bench@igretec.com", "admin", None, "correct horse battery")
        session.commit()
        admin = session.query(User).filter_by(email="bench@igretec.com").one()

        zone_triggers(session, False)
        without = load(session, ewkt, networks)
        single_without = one_report_ms(session, admin, args.repeat, seed=1)
        clear(session)
        zone_triggers(session, True)
        with_zones = load(session, ewkt, networks)
        single_with = one_report_ms(session, admin, args.repeat, seed=1)
        count = session.scalar(text("SELECT count(*) FROM zones"))
        largest = session.scalar(text("SELECT max(report_count) FROM zones"))
        print(f"(a)  load with zones:     {with_zones:7.2f} s ({count:,} zones, largest {largest} reports)")
        print(f"(a') load without zones:  {without:7.2f} s   ratio (a)/(a') = {with_zones / without:.2f}")
        print(f"(b)  one report, zones:   {single_with:7.1f} ms (median of {args.repeat})")
        print(f"(b') one report, without: {single_without:7.1f} ms   ratio (b)/(b') = {single_with / single_without:.2f}")
        withdraw_ms, size = withdraw_from_largest_ms(session, admin, max(3, args.repeat // 6))
        print(f"(d)  withdraw one report of the largest zone ({size:,} reports): {withdraw_ms:7.1f} ms "
              f"(median of {max(3, args.repeat // 6)})")
        move_ms, moved_size = moved_ms(session, admin, max(3, args.repeat // 6))
        print(f"(i)  one square of the largest zone ({moved_size:,} reports) moved 5 m: {move_ms:7.1f} ms "
              f"(median of {max(3, args.repeat // 6)})")
        bulk_ms, bulk_anchor_ms, bulk_size, bulk_n = bulk_rejected_ms(session, admin, 3)
        print(f"(j)  {bulk_n} reports of the largest zone ({bulk_size:,} reports) rejected in one statement: "
              f"{bulk_ms:7.1f} ms (median of 3)")
        print(f"(j') the same regrouped in full (before 0038): {bulk_anchor_ms:7.1f} ms   "
              f"ratio (j)/(j') = {bulk_ms / bulk_anchor_ms:.2f}")
        join_ms, confirmed_size = join_confirmed_ms(session, admin, max(3, args.repeat // 6))
        print(f"(e)  one report joining the largest zone, confirmed ({confirmed_size:,} reports): {join_ms:7.1f} ms "
              f"(median of {max(3, args.repeat // 6)})")
        withdraw_confirmed_ms, confirmed_size = withdraw_from_confirmed_ms(session, admin, max(3, args.repeat // 6))
        print(f"(f)  withdraw one report of that confirmed zone ({confirmed_size:,} reports): "
              f"{withdraw_confirmed_ms:7.1f} ms (median of {max(3, args.repeat // 6)})")
        again_ms, again_withdrawn_ms = filed_again_ms(session, admin, max(3, args.repeat // 6))
        print(f"(g)  one report filed again over a square of the largest zone: {again_ms:7.1f} ms "
              f"(median of {max(3, args.repeat // 6)})")
        print(f"(h)  each withdrawn again (its twin still covers it): {again_withdrawn_ms:7.1f} ms "
              f"(median of {max(3, args.repeat // 6)})")
        stored_before, measures_before = zones.grouping(session), zone_measures(session)
        zones.recompute_all(session)
        session.commit()
        measures_after = zone_measures(session)
        worst = max(abs(a - b) / max(b, 1.0) for k, v in measures_after.items()
                    for a, b in zip(measures_before[k], v, strict=True))
        if zones.grouping(session) != stored_before or worst > 1e-6:
            sys.exit("stored zones differ from a full recomputation after (b), (d) to (j)")
        print(f"     stored zones == full recomputation after (b), (d) to (j): True (members; areas and "
              f"lengths within {worst:.1e} relative)")

        clear(session)
        load(session, ewkt[: args.points], networks[: args.points])
        stored = zones.grouping(session)
        started = time.perf_counter()
        zones.recompute_all(session)
        session.commit()
        recompute = time.perf_counter() - started
        anchor, partition = dbscan_partition(session)
        same = zones.grouping(session) == partition == stored
        print(f"(c)  regroup every point: {recompute:7.2f} s   ({args.points:,} points, {len(partition):,} zones)")
        print(f"(c') ST_ClusterDBSCAN:    {anchor:7.2f} s   ratio (c)/(c') = {recompute / anchor:.2f}")
        print(f"     same zones as DBSCAN and as stored by the triggers: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
