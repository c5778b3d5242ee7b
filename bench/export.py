"""Benchmark: geosignal's streamed GeoJSON export vs ``ogr2ogr -f GeoJSON`` on the same table.

Case 33 (../shared/cases/33-large-export-generator.py): N point reports spread over Charleroi
Métropole (seed 42, lon 4.30–4.60, lat 50.30–50.52, description "é" × 40), validated, in a
fresh database cloned from the template, inserted with COPY. Each export runs in its own
subprocess writing to a temporary file; wall time and peak RSS (``ru_maxrss`` of that child,
from ``os.wait4``) are printed with the ratio geosignal / ogr2ogr. The geosignal output is then
checked: valid JSON, every feature parsed, ``numberReturned`` == N.

Measured: ``service`` (the export service, what HTTP streams), ``cli`` (``geosignal export``,
which also records the run: checksum, gzip copy of the bytes, list of reports carried) and
ogr2ogr (GDAL, ``-lco RFC7946=YES -lco COORDINATE_PRECISION=6``: same rounding and winding
duties). Targets: service ≤ 0.5 × ogr2ogr's time, peak RSS ≤ 150 MB and flat in N.

Usage: ``python bench/export.py`` (200,000) · ``--sizes 50000,200000`` · ``--million``
(adds 1,000,000). Needs PostGIS (template ``geosignal_template``) and Debian's gdal-bin.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geosignal.devdb import create_database, drop_database  # noqa: E402

COMMUNES = ROOT.parent / "shared" / "data" / "communes_charleroi_metropole.geojson"


def populate(url: str, n: int) -> float:
    """Migrate, load the communes and COPY ``n`` case-33 point reports; return seconds taken."""
    from geosignal import migrate
    from geosignal.db import Database
    from geosignal.services.communes import load_communes

    migrate.upgrade(url)
    database = Database(url)
    with database.session() as session:
        load_communes(session, COMMUNES)
        session.commit()
    started = time.perf_counter()
    rng = random.Random(42)
    raw = database.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TEMP TABLE staging (id uuid, lon float8, lat float8, description text)")
        with cur.copy("COPY staging (id, lon, lat, description) FROM STDIN") as copy:
            buffer = io.StringIO()
            for i in range(n):
                lon, lat = rng.uniform(4.30, 4.60), rng.uniform(50.30, 50.52)
                buffer.write(f"{uuid.UUID(int=rng.getrandbits(128), version=4)}\t{round(lon, 6)}\t{round(lat, 6)}\t"
                             f"{'é' * 40}\n")
                if i % 20000 == 19999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        cur.execute("CREATE TEMP TABLE parts AS SELECT nis_code, ST_Subdivide(boundary, 64) AS g FROM communes")
        cur.execute("CREATE INDEX ON parts USING gist (g)")
        cur.execute("""
            INSERT INTO reports (id, geometry, commune_nis, network, technologies, operators, description, status)
            SELECT s.id, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326),
                   coalesce((SELECT min(p.nis_code) FROM parts p
                             WHERE ST_Intersects(p.g, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))), '52011'),
                   'mobile', '{4G}', '{Proximus}', s.description, 'validated'
            FROM staging s""")
        raw.commit()
    finally:
        raw.close()
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE reports"))
    elapsed = time.perf_counter() - started
    # read the whole table once, so that no export below pays for a cold cache
    with database.engine.connect() as c:
        c.execute(text("SELECT sum(length(r::text)) FROM reports r")).scalar_one()
    database.engine.dispose()
    return elapsed


#: A small launcher: forks the command from a fresh, small process and reports its rusage.
#: (On Linux a child's ru_maxrss starts at the RSS of the process it was forked from, since
#: exec keeps the high-water mark: forking from this benchmark, which holds geopandas and
#: SQLAlchemy, would add ~180 MB to every figure.)
_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]))
"""


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``argv``; return (wall seconds, peak RSS in MB of that process alone)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    try:
        code, maxrss_kb = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        code, maxrss_kb = 1, 0
    if code != 0 or done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr[-2000:]}")
    return wall, maxrss_kb / 1024  # Linux: kilobytes


def check_geojson(path: Path, n: int) -> int:
    """Parse every feature of a geosignal export one at a time; return how many there are."""
    decoder = json.JSONDecoder()
    data = path.read_text(encoding="utf-8")
    start = data.index('"features":[') + len('"features":[')
    head = json.loads(data[:start - len(',"features":[')] + "}")
    assert head["type"] == "FeatureCollection"
    i, count = start, 0
    while data[i] != "]":
        feature, i = decoder.raw_decode(data, i)
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
        count += 1
        if data[i] == ",":
            i += 1
    tail = json.loads("{" + data[i + 2:])
    assert tail["numberReturned"] == count == n, (tail["numberReturned"], count, n)
    return count


def service_child(url: str, out: str) -> None:
    """Child process: stream the export service into ``out`` (no recording)."""
    from geosignal.db import Database
    from geosignal.services.export import ExportRequest, stream_export

    database = Database(url)
    with database.session() as session, open(out, "wb") as f:
        for chunk in stream_export(session, ExportRequest()).chunks:  # the bytes HTTP streams
            f.write(chunk)


#: Columns that are geosignal's caches, not report data (``feature_json``: the stored export).
CACHE_COLUMNS = {"feature_json", "feature_collapsed"}


def report_columns(url: str) -> list[str]:
    """Return the columns of ``reports`` that hold report data, in table order."""
    engine = create_engine(url)
    with engine.connect() as c:
        names = c.execute(text("SELECT column_name FROM information_schema.columns WHERE table_name = 'reports' "
                               "ORDER BY ordinal_position")).scalars().all()
    engine.dispose()
    return [n for n in names if n not in CACHE_COLUMNS]


def measure(n: int, workdir: Path) -> dict[str, float]:
    name = f"geosignal_bench_{os.getpid()}_{n}"
    url = create_database(name)
    try:
        load_s = populate(url, n)
        u = make_url(url)
        pg = f"PG:dbname={u.database} host={u.host} port={u.port or 5432} user={u.username} password={u.password}"
        out_service, out_cli, out_ogr = workdir / "service.geojson", workdir / "cli.geojson", workdir / "ogr.geojson"
        env = {**os.environ, "GEOSIGNAL_DATABASE_URL": url,
               "GEOSIGNAL_ENV": "development", "PYTHONPATH": str(ROOT)}
        service = run_child([sys.executable, __file__, "--child-service", url, str(out_service)], env)
        cli = run_child([sys.executable, "-c", "from geosignal.cli import main; main()", "export", "-o", str(out_cli)], env)
        # ogr2ogr reads the reports' own columns: not geosignal's stored copy of the export
        ogr = run_child(["ogr2ogr", "-f", "GeoJSON", "-lco", "RFC7946=YES", "-lco", "COORDINATE_PRECISION=6",
                         str(out_ogr), pg, "-sql", f"SELECT {', '.join(report_columns(url))} FROM reports",
                         "-nln", "reports"])
        count = check_geojson(out_service, n)
        check_geojson(out_cli, n)
        return {"n": n, "load_s": load_s, "count": count,
                "service_s": service[0], "service_mb": service[1], "service_bytes": out_service.stat().st_size,
                "cli_s": cli[0], "cli_mb": cli[1],
                "ogr_s": ogr[0], "ogr_mb": ogr[1], "ogr_bytes": out_ogr.stat().st_size}
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="200000", help="comma-separated report counts")
    parser.add_argument("--million", action="store_true", help="also run at 1,000,000 reports")
    parser.add_argument("--child-service", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_service:
        service_child(*args.child_service)
        return
    if shutil.which("ogr2ogr") is None:
        raise SystemExit("ogr2ogr not found: apt-get install gdal-bin")
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    version = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"geosignal export vs {version}; case 33 point reports; 2 runs never overlap")
    print(f"{'N':>9} {'load s':>7} | {'service s':>9} {'RSS MB':>7} | {'cli s':>6} {'RSS MB':>7} | "
          f"{'ogr2ogr s':>9} {'RSS MB':>7} | {'service/ogr':>11} {'cli/ogr':>8} | {'MB out':>7}")
    with tempfile.TemporaryDirectory(prefix="geosignal-bench-") as tmp:
        for n in sizes:
            r = measure(n, Path(tmp))
            print(f"{r['n']:>9,} {r['load_s']:>7.1f} | {r['service_s']:>9.2f} {r['service_mb']:>7.0f} | "
                  f"{r['cli_s']:>6.2f} {r['cli_mb']:>7.0f} | {r['ogr_s']:>9.2f} {r['ogr_mb']:>7.0f} | "
                  f"{r['service_s'] / r['ogr_s']:>11.2f} {r['cli_s'] / r['ogr_s']:>8.2f} | "
                  f"{r['service_bytes'] / 1e6:>7.1f}", flush=True)
    print("targets: service/ogr ≤ 0.50, RSS ≤ 150 MB and flat in N; outputs parsed: every feature, count == N")


if __name__ == "__main__":
    main()
