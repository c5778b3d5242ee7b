"""Benchmark of the API intake as users get it: ``POST /api/v1/reports`` behind ``geosignal serve``.

Starts the real CLI (``geosignal serve``: gunicorn) on a scratch database holding the 30
communes, then, in the same run:

  (raw)  the anchor: a plain psycopg loop, ``INSERT`` of the same geometry and a few columns
         into a scratch table, one commit per row, from the same number of threads;
  (api)  ``clients`` threads POST the same small zones (120 m squares in Charleroi) as GeoJSON
         Features with a representative's bearer token (full intake: validation, commune
         assignment, duplicate check, stored Feature, stored figures, one commit each);

prints throughput, p50/p99 latency and errors for both and the ratio api/raw, then checks
that the stored per-commune figures equal a full recomputation (counts exact, areas within
1e-6 relative).

    python bench/api_intake.py --quick          # 300 zones, 20 clients (< 1 min)
    python bench/api_intake.py                  # 2,000 zones, 50 clients
    python bench/api_intake.py --workers 4      # gunicorn workers (default: geosignal serve's)

Targets: api/raw ≥ 0.5, p99 ≤ 150 ms, 0 errors, stored == recomputed.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def squares(n: int, seed: int = 3) -> list[list[list[float]]]:
    """``n`` rings of 120 m squares in Charleroi (EPSG:4326, [lon, lat])."""
    import numpy as np

    from geosignal.geo import LAMBERT72, WGS84, transform_xy

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x, y = 152000 + rng.uniform(0, 6000), 119000 + rng.uniform(0, 6000)
        ring = np.asarray([(x, y), (x + 120, y), (x + 120, y + 120), (x, y + 120), (x, y)])
        out.append(transform_xy(ring, LAMBERT72, WGS84).tolist())
    return out


def run(n: int, clients: int, make: Callable[[], Callable[[int], bool]]) -> tuple[float, float, float, int]:
    """Run ``n`` calls from ``clients`` threads (each with its own context from ``make``);
    return (per second, p50 ms, p99 ms, errors)."""
    latencies: list[float] = []
    errors: list[int] = []
    counter = iter(range(n))
    lock = threading.Lock()

    def worker() -> None:
        call = make()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t = time.perf_counter()
            try:
                ok = call(i)
            except Exception:  # noqa: BLE001 - counted as an error
                ok = False
            latencies.append(time.perf_counter() - t)
            if not ok:
                errors.append(i)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return n / wall, 1000 * latencies[len(latencies) // 2], 1000 * latencies[int(len(latencies) * 0.99)], len(errors)


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (geosignal serve --workers)")
    parser.add_argument("--quick", action="store_true", help="300 zones, 20 clients")
    parser.add_argument("--communes", default=str(ROOT.parent / "shared" / "data" /
                                                  "communes_charleroi_metropole.geojson"))
    args = parser.parse_args()
    if args.quick:
        args.n, args.clients = 300, 20

    import psycopg
    import requests
    from sqlalchemy import text

    from geosignal import migrate
    from geosignal.db import Database
    from geosignal.devdb import create_database, drop_database
    from geosignal.services import aggregation
    from geosignal.services.communes import load_communes
    from geosignal.services.users import create_token, create_user

    name = f"geosignal_bench_api_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    server = None
    try:
        migrate.upgrade(url)
        database = Database(url)
        with database.session() as s:
            load_communes(s, args.communes)
            create_user(s, "bench@charleroi.be", "representative", "52011", "correct horse battery")
            token = create_token(s, "bench@charleroi.be")
            s.commit()
        port = free_port()
        env = {**os.environ, "GEOSIGNAL_DATABASE_URL": url, "GEOSIGNAL_SECRET_KEY": "bench-" + uuid.uuid4().hex,
               "GEOSIGNAL_TILE_URL": "",
               "GEOSIGNAL_WRITE_RATE_LIMIT": "1000000 per minute", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        command = [sys.executable, "-c", "from geosignal.cli import main; main()", "serve", "--port", str(port)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if requests.get(f"{base}/api/v1/communes", headers={"Authorization": f"Bearer {token}"},
                                timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise SystemExit("geosignal serve did not start: " + server.stderr.read().decode()[-2000:])
        print(f"geosignal serve on {base} (gunicorn, workers: {args.workers or 'default'}), "
              f"database {name}; {args.n:,} zones from {args.clients} clients")

        rings = squares(args.n)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE TABLE bench_raw (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
                      "geom geometry(Polygon, 4326), network text, description text, "
                      "created_at timestamptz DEFAULT now())")

        def raw() -> Callable[[int], bool]:
            conn = psycopg.connect(dsn)

            def insert(i: int) -> bool:
                wkt = "POLYGON((" + ",".join(f"{x} {y}" for x, y in rings[i]) + "))"
                conn.execute("INSERT INTO bench_raw (geom, network, description) "
                             "VALUES (ST_GeomFromText(%s, 4326), 'mobile', %s)", (wkt, f"raw {i}"))
                conn.commit()
                return True
            return insert

        def api() -> Callable[[int], bool]:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"

            def post(i: int) -> bool:
                feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [rings[i]]},
                           "properties": {"network": "mobile", "technologies": ["4G"], "operators": ["Orange"],
                                          "issue": "no_coverage", "setting": "outdoor",
                                          "description": f"bench {i}"}}
                return session.post(f"{base}/api/v1/reports", json=feature, timeout=120).status_code == 201
            return post

        r_raw = run(args.n, args.clients, raw)
        print(f"(raw) psycopg INSERT + COMMIT per row   {r_raw[0]:7.0f} rows/s     p50 {r_raw[1]:6.1f} ms  "
              f"p99 {r_raw[2]:6.1f} ms  errors {r_raw[3]}")
        r_api = run(args.n, args.clients, api)
        print(f"(api) POST /api/v1/reports              {r_api[0]:7.0f} reports/s  p50 {r_api[1]:6.1f} ms  "
              f"p99 {r_api[2]:6.1f} ms  errors {r_api[3]}")
        ratio = r_api[0] / r_raw[0]
        print(f"ratio api/raw = {ratio:.3f} (target ≥ 0.5); p99 {r_api[2]:.0f} ms (target ≤ 150 ms); "
              f"errors {r_api[3]} (target 0)")

        with database.session() as s:
            stored = {r["nis_code"]: r for r in aggregation.commune_table(s)["communes"]}
            live = aggregation.compute_live(s)
            count = s.execute(text("SELECT count(*) FROM reports")).scalar_one()
        bad = [n for n, row in live.items()
               if any(stored[n][k] != row[k] for k in ("report_count", "zone_count", "breakdown"))
               or abs(stored[n]["white_zone_area_km2"] - row["white_zone_area_km2"])
               > 1e-6 * max(row["white_zone_area_km2"], 1e-12)]
        print(f"stored figures vs full recomputation after {count:,} reports: "
              f"{'agree (counts exact, areas within 1e-6)' if not bad else 'DISAGREE for ' + ', '.join(bad)}; "
              f"Charleroi {stored['52011']['report_count']:,} reports, "
              f"{stored['52011']['white_zone_area_km2']:.6f} km² (recomputed "
              f"{live['52011']['white_zone_area_km2']:.6f} km²)")
        database.engine.dispose()
        if bad:
            raise SystemExit(1)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        drop_database(name)


if __name__ == "__main__":
    main()
