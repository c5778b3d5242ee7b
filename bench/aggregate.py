"""Benchmark of the per-commune white-zone aggregation at scale.

A seeded generator puts N points and M overlapping polygons inside the territory (the
communes loaded: the 30 of Charleroi Métropole by default), loads them with COPY into a
fresh database cloned from the template (as ``tests/conftest.py`` does), then times:

  (a) the best hand-written PostGIS SQL for the same figures (points per commune with
      subdivided communes and a smallest-NIS tie-break; union of zones clipped per commune),
  (b) naive geopandas: ``gpd.sjoin`` for points, ``gpd.overlay`` + ``dissolve`` for zones,
  (c) geosignal's full recompute (``aggregation.recompute_all``: computed and stored),
  (d) ``GET /api/v1/stats/communes`` through the Flask test client after the load (median),
  (e) adding one report through the service (``reports.create_report`` + commit) and reading
      the stats again (median),
  (g) rejecting one zone (``reports.set_status`` + commit) and reading the stats (median),
  (h) withdrawing one zone the same way (median),
  (j) moving one zone 5 m through the edit path (``reports.edit_report`` + commit) and reading
      the stats (median), (k) rejecting 5 zones in one statement (``workflow.transition_many``
      + commit) and reading the stats (median),
  (i) filtered (live) stats, ``GET /api/v1/stats/communes?network=mobile``, vs (a') the best
      hand-written SQL for the same filter (median of 3 each),

checks that they agree (counts exact, areas within 0.1 %), and prints the ratios and the
dashboard's HTML weight with everything loaded.

    python bench/aggregate.py                      # N = 100,000, M = 10,000
    python bench/aggregate.py --points 1000000 --polygons 100000
    python bench/aggregate.py --keep               # keep the database (its name is printed)
    python bench/aggregate.py --quick              # 20,000 points + 2,000 polygons, no (b)
    python bench/aggregate.py --communes ../shared/data/communes_belgium_2021.geojson

The load is one INSERT … SELECT from a COPY-filled staging table: the ``reports`` statement
triggers build the stored Features and bring the stored figures up to date in one pass each,
and (c) recomputes them all again.

Targets: (c)/(a) ≤ 1.0; (d) ≤ 50 ms; (e) ≤ 10 ms and (g), (h) ≤ 20 ms at 1,000,000 reports;
(i)/(a') ≤ 0.5; dashboard ≤ 300 KB; stored == live after every change.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geosignal import workflow  # noqa: E402
from geosignal.geo import LAMBERT72, WGS84, transform_xy  # noqa: E402
from geosignal.vocab import ISSUES, NETWORKS, OPERATORS, TECHNOLOGIES  # noqa: E402


def generate(territory_31370, n_points: int, n_polygons: int, seed: int):  # noqa: ANN001, ANN201
    """Return (points, polygons) in EPSG:31370, seeded: points uniformly inside the territory;
    polygons star-shaped (16 vertices, radius 50–400 m) centred inside it, overlapping."""
    rng = np.random.default_rng(seed)
    shapely.prepare(territory_31370)
    x0, y0, x1, y1 = territory_31370.bounds

    def inside(n: int) -> np.ndarray:
        out = np.empty((0, 2))
        while len(out) < n:
            xy = np.column_stack([rng.uniform(x0, x1, 2 * n), rng.uniform(y0, y1, 2 * n)])
            out = np.vstack([out, xy[shapely.contains_xy(territory_31370, xy[:, 0], xy[:, 1])]])
        return out[:n]

    points = shapely.points(inside(n_points))
    centres = inside(n_polygons)
    k = 16
    angles = np.sort(rng.uniform(0, 2 * np.pi, (n_polygons, k)), axis=1)
    radius = rng.uniform(50, 400, (n_polygons, 1)) * rng.uniform(0.6, 1.0, (n_polygons, k))
    xs = centres[:, :1] + radius * np.cos(angles)
    ys = centres[:, 1:] + radius * np.sin(angles)
    rings = np.stack([xs, ys], axis=2)
    rings = np.concatenate([rings, rings[:, :1]], axis=1)
    polygons = shapely.polygons(rings)
    polygons = np.where(shapely.is_valid(polygons), polygons, shapely.make_valid(polygons))
    return points, polygons


def to_4326(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: transform_xy(xy, LAMBERT72, WGS84))


def load(url: str, points_4326: np.ndarray, polygons_4326: np.ndarray, seed: int) -> float:
    """COPY the reports into ``reports`` (home commune by the commune_of rule); return seconds."""
    import psycopg
    from sqlalchemy import create_engine, text

    from geosignal.services.aggregation import home_communes

    engine = create_engine(url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT nis_code, ST_AsBinary(boundary) FROM communes")).all()
    engine.dispose()
    boundaries = {n: shapely.from_wkb(bytes(w)) for n, w in rows}
    geoms = np.concatenate([points_4326, polygons_4326])
    t = time.perf_counter()
    homes = home_communes(boundaries, geoms)
    rng = np.random.default_rng(seed + 1)
    statuses = rng.choice(["submitted", "validated", "rejected"], size=len(geoms), p=[0.6, 0.3, 0.1])
    networks = rng.choice(NETWORKS, size=len(geoms))
    techs = rng.choice(TECHNOLOGIES, size=len(geoms))
    ops = rng.choice(OPERATORS, size=len(geoms))
    issues = rng.choice(ISSUES, size=len(geoms))
    wkb = shapely.to_wkb(geoms, hex=True, include_srid=False)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE staging (id uuid, wkb text, commune_nis varchar(5), network text, "
                    "technologies text, operators text, issue text, status text)")
        with cur.copy("COPY staging FROM STDIN") as copy:
            for i in range(len(geoms)):
                if homes[i] is None:
                    continue
                copy.write_row((uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | i), wkb[i], homes[i],
                                networks[i], "{" + techs[i] + "}", "{" + ops[i] + "}", issues[i], statuses[i]))
        cur.execute("INSERT INTO reports (id, geometry, commune_nis, network, technologies, operators, issue, "
                    "status) SELECT id, ST_SetSRID(ST_GeomFromWKB(decode(wkb, 'hex')), 4326), commune_nis, "
                    "network, technologies::varchar[], operators::varchar[], issue, status FROM staging")
        conn.commit()
        cur.execute("ANALYZE reports")
    return time.perf_counter() - t


SQL_A = """
WITH sub AS MATERIALIZED (
  SELECT nis_code, ST_Subdivide(boundary, 64) AS g FROM communes
), pts AS (
  SELECT DISTINCT ON (r.id) r.id, s.nis_code
  FROM reports r JOIN sub s ON ST_Intersects(s.g, r.geometry)
  WHERE ST_Dimension(r.geometry) = 0 AND r.status IN ('submitted', 'validated')
  ORDER BY r.id, s.nis_code
), c AS MATERIALIZED (
  SELECT nis_code, ST_Transform(boundary, 31370) AS g FROM communes
), z AS MATERIALIZED (
  SELECT ST_Transform(geometry, 31370) AS g FROM reports
  WHERE ST_Dimension(geometry) = 2 AND status IN ('submitted', 'validated')
), area AS (
  SELECT c.nis_code,
         ST_Area(ST_Union(CASE WHEN ST_Within(z.g, c.g) THEN z.g ELSE ST_Intersection(z.g, c.g) END)) AS m2
  FROM c JOIN z ON ST_Intersects(z.g, c.g) GROUP BY c.nis_code
), zc AS (
  SELECT commune_nis AS nis_code, count(*) AS n FROM reports
  WHERE ST_Dimension(geometry) = 2 AND status IN ('submitted', 'validated') GROUP BY 1
)
SELECT c.nis_code, coalesce(p.n, 0), coalesce(zc.n, 0), coalesce(area.m2, 0)
FROM communes c
LEFT JOIN (SELECT nis_code, count(*) AS n FROM pts GROUP BY 1) p USING (nis_code)
LEFT JOIN zc USING (nis_code)
LEFT JOIN area USING (nis_code)
ORDER BY 1
"""


def run_a(url: str, sql: str = SQL_A) -> dict[str, tuple[int, int, float]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        c.execute(text("SET jit = off"))
        out = {n: (int(p), int(z), float(a)) for n, p, z, a in c.execute(text(sql))}
    engine.dispose()
    return out


def run_b(url: str) -> dict[str, tuple[int, int, float]]:
    import geopandas as gpd
    from sqlalchemy import create_engine

    engine = create_engine(url)
    communes = gpd.read_postgis("SELECT nis_code, boundary FROM communes", engine, geom_col="boundary")
    points = gpd.read_postgis("SELECT id, geometry FROM reports WHERE ST_Dimension(geometry) = 0 "
                              "AND status IN ('submitted', 'validated')", engine, geom_col="geometry")
    zones = gpd.read_postgis("SELECT id, commune_nis, geometry FROM reports WHERE ST_Dimension(geometry) = 2 "
                             "AND status IN ('submitted', 'validated')", engine, geom_col="geometry")
    engine.dispose()
    joined = gpd.sjoin(points, communes, predicate="intersects").sort_values(["id", "nis_code"])
    point_counts = joined.drop_duplicates("id").groupby("nis_code").size()
    zone_counts = zones.groupby("commune_nis").size()
    c31370, z31370 = communes.to_crs(LAMBERT72), zones.to_crs(LAMBERT72)
    pieces = gpd.overlay(z31370[["geometry"]], c31370, how="intersection", keep_geom_type=True)
    areas = pieces.dissolve(by="nis_code").area
    return {n: (int(point_counts.get(n, 0)), int(zone_counts.get(n, 0)), float(areas.get(n, 0.0)))
            for n in sorted(communes["nis_code"])}


def main() -> None:  # noqa: C901, PLR0915
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--polygons", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--repeat", type=int, default=25, help="requests for (d) and (e), median taken")
    parser.add_argument("--skip-naive", action="store_true", help="skip (b)")
    parser.add_argument("--quick", action="store_true", help="20,000 points + 2,000 polygons, no (b), 10 repeats")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--communes", default=str(ROOT.parent / "shared" / "data" /
                                                  "communes_charleroi_metropole.geojson"))
    args = parser.parse_args()
    if args.quick:
        args.points, args.polygons, args.skip_naive, args.repeat = 20_000, 2_000, True, 10

    from sqlalchemy import text

    from geosignal import create_app, migrate
    from geosignal.db import Database
    from geosignal.devdb import create_database, drop_database
    from geosignal.models import User
    from geosignal.services import aggregation
    from geosignal.services import reports as reports_service
    from geosignal.services.communes import load_communes
    from geosignal.services.intake import ReportInput
    from geosignal.services.users import create_token, create_user

    name = f"geosignal_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    try:
        migrate.upgrade(url)
        database = Database(url)
        with database.session() as s:
            load_communes(s, args.communes)
            create_user(s, "bench-ref@igretec.com", "referent", None, "correct horse battery")
            create_user(s, "bench-admin@igretec.com", "admin", None, "correct horse battery")
            token = create_token(s, "bench-ref@igretec.com")
            s.commit()
            wkbs = [bytes(w) for (w,) in s.execute(text(
                "SELECT ST_AsBinary(ST_Transform(ST_Union(boundary), 31370)) FROM communes"))]
        territory = shapely.from_wkb(wkbs[0])
        t = time.perf_counter()
        points, polygons = generate(territory, args.points, args.polygons, args.seed)
        t_gen = time.perf_counter() - t
        t_load = load(url, to_4326(points), to_4326(polygons), args.seed)
        with database.session() as s:
            total, counted = s.execute(text(
                "SELECT count(*), count(*) FILTER (WHERE status IN ('submitted', 'validated')) FROM reports")).one()
        print(f"database {name}: {total:,} reports ({counted:,} counted), {args.points:,} points + "
              f"{args.polygons:,} polygons; generated in {t_gen:.1f} s, loaded (COPY) in {t_load:.1f} s")

        t = time.perf_counter()
        a = run_a(url)
        t_a = time.perf_counter() - t
        print(f"(a) hand-written PostGIS SQL       {t_a:8.2f} s")

        t_b = None
        if not args.skip_naive:
            t = time.perf_counter()
            b = run_b(url)
            t_b = time.perf_counter() - t
            print(f"(b) naive gpd.overlay + dissolve   {t_b:8.2f} s")

        with database.session() as s:
            s.execute(text("SET jit = off"))
            t = time.perf_counter()
            aggregation.recompute_all(s)
            s.commit()
            t_c = time.perf_counter() - t
            c = {r["nis_code"]: r for r in aggregation.commune_table(s)["communes"]}
        print(f"(c) geosignal full recompute       {t_c:8.2f} s  (computed and stored)")

        # agreement: counts exact, areas within 0.1 %
        def check(label: str, other: dict[str, tuple[int, int, float]]) -> None:
            bad = []
            for nis, (p, z, m2) in other.items():
                row = c[nis]
                if row["point_count"] != p or row["zone_count"] != z:
                    bad.append(f"{nis}: counts {row['point_count']}/{row['zone_count']} vs {p}/{z}")
                if abs(row["white_zone_area_km2"] * 1e6 - m2) > 1e-3 * max(m2, 1.0):
                    bad.append(f"{nis}: area {row['white_zone_area_km2'] * 1e6:.1f} vs {m2:.1f} m²")
            status = "agree" if not bad else "DISAGREE: " + "; ".join(bad[:5])
            print(f"    (c) vs {label}: {status}")
            if bad:
                raise SystemExit(1)

        check("(a)", a)
        if t_b is not None:
            check("(b)", b)
        area_total = sum(r["white_zone_area_km2"] for r in c.values())
        print(f"    white zone {area_total:,.3f} km², points {sum(r['point_count'] for r in c.values()):,}, "
              f"zones {sum(r['zone_count'] for r in c.values()):,}")

        app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "bench",
                          "TILE_URL": ""})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        client.get("/api/v1/stats/communes", headers=headers)  # warm-up
        times_d = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            response = client.get("/api/v1/stats/communes", headers=headers)
            times_d.append(time.perf_counter() - t)
            assert response.status_code == 200 and response.get_json()["source"] == "stored"
        t_d = statistics.median(times_d)
        print(f"(d) GET /api/v1/stats/communes     {1000 * t_d:8.1f} ms median of {args.repeat}")

        rng = np.random.default_rng(args.seed + 2)
        _, extra = generate(territory, 0, args.repeat + 1, args.seed + 3)
        extra = to_4326(extra)
        times_e = []
        with app.app_context():
            from geosignal.db import get_session

            session = get_session()
            admin = session.query(User).filter_by(email="bench-admin@igretec.com").one()
            for i, geom in enumerate(extra):
                report_input = ReportInput(geometry=geom, properties={
                    "network": str(rng.choice(NETWORKS)), "technologies": ["4G"], "operators": ["Orange"]})
                t = time.perf_counter()
                reports_service.create_report(session, admin, report_input)
                session.commit()
                response = client.get("/api/v1/stats/communes", headers=headers)
                elapsed = time.perf_counter() - t
                if i:  # first one warms up
                    times_e.append(elapsed)
                assert response.status_code == 200 and response.get_json()["source"] == "stored"
            after = {r["nis_code"]: r for r in response.get_json()["communes"]}
            live = aggregation.compute_live(session)
            worst = max(abs(after[n]["white_zone_area_km2"] - live[n]["white_zone_area_km2"])
                        / max(live[n]["white_zone_area_km2"], 1e-9) for n in live)
            same_counts = all(after[n]["report_count"] == live[n]["report_count"] for n in live)
        t_e = statistics.median(times_e)
        print(f"(e) add one report + read stats    {1000 * t_e:8.1f} ms median of {len(times_e)}")
        print(f"    after the adds, stored vs live recompute: counts {'agree' if same_counts else 'DISAGREE'}, "
              f"largest area difference {100 * worst:.6f} %")

        def status_changes(status: str) -> float:
            """Median time of setting ``status`` on one counted zone + reading the stats."""
            times = []
            with app.app_context():
                from geosignal.db import get_session

                session = get_session()
                admin = session.query(User).filter_by(email="bench-admin@igretec.com").one()
                ids = list(session.scalars(text(  # zones the workflow lets move to ``status``
                    "SELECT id FROM reports WHERE ST_Dimension(geometry) = 2 AND status = ANY(:sources) "
                    "ORDER BY seq LIMIT :n"), {"n": args.repeat + 1, "sources": list(workflow.sources_of(status))}))
                session.commit()
                for i, rid in enumerate(ids):
                    t = time.perf_counter()
                    reports_service.set_status(session, admin, rid, status, "Motif du banc d'essai")
                    session.commit()
                    response = client.get("/api/v1/stats/communes", headers=headers)
                    elapsed = time.perf_counter() - t
                    assert response.status_code == 200 and response.get_json()["source"] == "stored"
                    if i:
                        times.append(elapsed)
            return statistics.median(times)

        t_g = status_changes("rejected")
        print(f"(g) reject one zone + read stats   {1000 * t_g:8.1f} ms median of {args.repeat}")
        t_h = status_changes("withdrawn")
        print(f"(h) withdraw one zone + read stats {1000 * t_h:8.1f} ms median of {args.repeat}")

        def moves_and_bulk() -> tuple[float, float, int]:
            """Median times of (j) moving one submitted zone 5 m east through the edit path
            (``reports.edit_report`` with its ETag + commit) and (k) rejecting 5 zones in one
            statement (``workflow.transition_many`` + commit), each + reading the stats."""
            # (bench/zones.py: the edit path, as the pages and the API take it)
            from zones import move_east

            from geosignal.services import workflow as workflow_service

            times_j, times_k = [], []
            with app.app_context():
                from geosignal.db import get_session

                session = get_session()
                admin = session.query(User).filter_by(email="bench-admin@igretec.com").one()
                ids = [str(i) for i in session.scalars(text(
                    "SELECT id FROM reports WHERE ST_Dimension(geometry) = 2 AND status = 'submitted' "
                    "ORDER BY seq DESC LIMIT :n"), {"n": 6 * (args.repeat + 1)})]
                session.commit()
                def read() -> None:
                    response = client.get("/api/v1/stats/communes", headers=headers)
                    assert response.status_code == 200 and response.get_json()["source"] == "stored"

                for i, rid in enumerate(ids[: args.repeat + 1]):
                    elapsed = move_east(session, admin, rid, 5.0, read)
                    if i:
                        times_j.append(elapsed)
                rest = ids[args.repeat + 1:]
                for i in range(args.repeat + 1):
                    batch = rest[5 * i: 5 * i + 5]
                    t = time.perf_counter()
                    done = workflow_service.transition_many(session, batch, "rejected", admin, "Motif du banc d'essai")
                    session.commit()
                    response = client.get("/api/v1/stats/communes", headers=headers)
                    elapsed = time.perf_counter() - t
                    assert len(done["moved"]) == len(batch) and response.status_code == 200
                    if i:
                        times_k.append(elapsed)
                size = session.scalar(text("SELECT max(report_count) FROM zones")) or 0
            return statistics.median(times_j), statistics.median(times_k), size

        t_j, t_k, largest = moves_and_bulk()
        print(f"(j) move one zone 5 m + read stats {1000 * t_j:8.1f} ms median of {args.repeat} "
              f"(largest zone {largest:,} reports)")
        print(f"(k) reject 5 zones at once + read  {1000 * t_k:8.1f} ms median of {args.repeat}")
        with database.session() as s:
            stored = {r["nis_code"]: r for r in aggregation.commune_table(s)["communes"]}
            live = aggregation.compute_live(s)
        bad = [n for n in live if any(stored[n][k] != live[n][k] for k in ("report_count", "zone_count", "breakdown"))
               or abs(stored[n]["white_zone_area_km2"] - live[n]["white_zone_area_km2"])
               > 1e-6 * max(live[n]["white_zone_area_km2"], 1e-12)]
        print(f"    after the adds, rejections, withdrawals and moves: stored vs full recomputation "
              f"{'agree (counts exact, areas within 1e-6)' if not bad else 'DISAGREE: ' + ', '.join(bad[:5])}")

        sql_mobile = SQL_A.replace("status IN ('submitted', 'validated')",
                                   "status IN ('submitted', 'validated') AND network = 'mobile'")
        times_a2, times_i = [], []
        for _ in range(3):
            t = time.perf_counter()
            a2 = run_a(url, sql_mobile)
            times_a2.append(time.perf_counter() - t)
            t = time.perf_counter()
            filtered = client.get("/api/v1/stats/communes?network=mobile", headers=headers)
            times_i.append(time.perf_counter() - t)
            assert filtered.status_code == 200 and filtered.get_json()["source"] == "live"
        t_a2, t_i = statistics.median(times_a2), statistics.median(times_i)
        rows_i = {r["nis_code"]: r for r in filtered.get_json()["communes"]}
        agree_i = all(rows_i[n]["zone_count"] == z and abs(rows_i[n]["white_zone_area_km2"] * 1e6 - m2)
                      <= 1e-3 * max(m2, 1.0) for n, (_p, z, m2) in a2.items())
        print(f"(a') hand-written SQL, network=mobile {1000 * t_a2:8.1f} ms median of 3")
        print(f"(i) GET stats?network=mobile (live)  {1000 * t_i:8.1f} ms median of 3; "
              f"{'agrees with' if agree_i else 'DISAGREES with'} (a')")

        with app.test_request_context():
            pass
        page = client.get("/tableau-de-bord", headers=headers)
        assert page.status_code == 200, page.status_code
        weight = len(page.get_data())
        print(f"dashboard HTML with {total + len(extra):,} reports loaded: {weight / 1024:.1f} KB "
              f"(target ≤ 300 KB)")

        times_f = []
        for zoom, bbox in ((9, "3.18878,49.79013,5.58380,50.74515"), (13, "4.40,50.39,4.48,50.43")):
            times_f = []
            for _ in range(5):
                t = time.perf_counter()
                loc = client.get(f"/api/v1/stats/locations?bbox={bbox}&zoom={zoom}", headers=headers)
                times_f.append(time.perf_counter() - t)
            body = loc.get_json()
            print(f"map locations at zoom {zoom:2d}: {body['total']:,} reports as {len(body['items']):,} "
                  f"{body['mode']}, {len(loc.get_data()) / 1024:.1f} KB, "
                  f"{1000 * statistics.median(times_f):.0f} ms median of 5")

        print("ratios:")
        print(f"  (c)/(a) = {t_c / t_a:.2f}  (target ≤ 1.0)")
        if t_b is not None:
            print(f"  (b)/(a) = {t_b / t_a:.2f}")
            print(f"  (c)/(b) = {t_c / t_b:.2f}")
        print(f"  (d) = {1000 * t_d:.1f} ms (target ≤ 50 ms), (e) = {1000 * t_e:.1f} ms (target ≤ 10 ms at 1M), "
              f"(g) = {1000 * t_g:.1f} ms, (h) = {1000 * t_h:.1f} ms (targets ≤ 20 ms at 1M)")
        print(f"  (i)/(a') = {t_i / t_a2:.2f}  (target ≤ 0.5)")
        app.extensions["geosignal.db"].engine.dispose()
        database.engine.dispose()
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            drop_database(name)


if __name__ == "__main__":
    main()
