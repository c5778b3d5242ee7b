"""Benchmark: what users get from ``geosignal export`` (recorded) vs ``ogr2ogr -f GeoJSON``.

Case 33 (../shared/cases/33-large-export-generator.py): N reports spread over Charleroi
Métropole (seed 42, lon 4.30–4.60, lat 50.30–50.52, description "é" × 40), validated, in a
fresh database cloned from the template. Two mixes: ``points`` (case 33 as handed) and
``polygons`` (the same with every tenth report a zone: a 16-vertex polygon of radius 30–300 m).

**Load.** The reports are generated into a staging table, then loaded with ``COPY reports
FROM STDIN`` twice: once with the stored-Feature triggers disabled (anchor: a bare COPY), then
(after TRUNCATE) with them, as every bulk write runs (statement-level triggers, one set-wise
``INSERT … SELECT`` into ``report_features``). Both times and their ratio are printed. Zone
grouping is disabled for both loads: the export carries confirmed zones only (there are none
here), and reports this dense (one network, up to 2,000 per km²) percolate into one zone
whose grouping would dominate the load (``bench/zones.py`` measures grouping).

**Export.** Each export runs in its own process writing to a temporary file; wall time and
peak RSS (``ru_maxrss`` of that child, from ``os.wait4``) are printed with the ratios to
ogr2ogr measured in the same run: ``cli`` is what a user gets (``geosignal export``: stream,
SHA-256, gzip copy, reports carried, committed), ``service`` the bare stream (no recording),
ogr2ogr GDAL's (``-lco RFC7946=YES -lco COORDINATE_PRECISION=6``: same rounding and winding
duties, reading the reports' own columns). The outputs are then checked: valid JSON, every
feature parsed, ``numberReturned`` == N; the recorded run's SHA-256 == the file's.
Targets: cli ≤ 0.5 × ogr2ogr's time, peak RSS ≤ 150 MB and flat in N.

Each export can run ``--repeat`` times, interleaved (the fastest kept: on a shared machine
noise only adds time); the client process's CPU seconds are printed too.

Usage: ``python bench/export.py --quick`` (20,000, both mixes: verifies itself in < 2 min) ·
default 200,000 · ``--sizes 50000,200000`` · ``--million`` (adds 1,000,000) · ``--mix points``.
Needs PostGIS (template ``geosignal_template``) and Debian's gdal-bin.
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


def _stage(raw, n: int, mix: str) -> None:  # noqa: ANN001
    """Fill the temporary table ``staging`` with ``n`` case-33 reports (commune assigned)."""
    rng = random.Random(42)
    cur = raw.cursor()
    cur.execute("CREATE TEMP TABLE raw_points (id uuid, lon float8, lat float8, radius float8, description text)")
    with cur.copy("COPY raw_points (id, lon, lat, radius, description) FROM STDIN") as copy:
        buffer = io.StringIO()
        for i in range(n):
            lon, lat = rng.uniform(4.30, 4.60), rng.uniform(50.30, 50.52)
            rid = uuid.UUID(int=rng.getrandbits(128), version=4)
            radius = rng.uniform(30, 300) if mix == "polygons" and i % 10 == 9 else 0
            buffer.write(f"{rid}\t{round(lon, 6)}\t{round(lat, 6)}\t{radius:.1f}\t{'é' * 40}\n")
            if i % 20000 == 19999:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    cur.execute("CREATE TEMP TABLE parts AS SELECT nis_code, ST_Subdivide(boundary, 64) AS g FROM communes")
    cur.execute("CREATE INDEX ON parts USING gist (g)")
    cur.execute("""
        CREATE TEMP TABLE staging AS
        SELECT s.id, g.geometry,
               coalesce((SELECT min(p.nis_code) FROM parts p
                         WHERE ST_Intersects(p.g, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))), '52011') AS commune_nis,
               s.description
        FROM raw_points s
        CROSS JOIN LATERAL (SELECT CASE WHEN s.radius = 0 THEN ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)
                            ELSE ST_Transform(ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326),
                                                                     31370), s.radius, 4), 4326) END AS geometry) g""")


def _copy_in(raw, data: Path) -> float:  # noqa: ANN001
    """``COPY reports FROM STDIN`` the staged rows in ``data``; return seconds (committed)."""
    cur = raw.cursor()
    started = time.perf_counter()
    with cur.copy("COPY reports (id, geometry, commune_nis, network, technologies, operators, description, status) "
                  "FROM STDIN") as copy, open(data, "rb") as f:
        while block := f.read(1 << 20):
            copy.write(block)
    raw.commit()
    return time.perf_counter() - started


def populate(url: str, n: int, mix: str, workdir: Path) -> tuple[float, float]:
    """Migrate, load the communes and ``n`` case-33 reports of ``mix`` with ``COPY``; return
    (seconds of the COPY without the stored-Feature triggers, seconds with them)."""
    from geosignal import migrate
    from geosignal.db import Database
    from geosignal.services.communes import load_communes

    migrate.upgrade(url)
    database = Database(url)
    with database.session() as session:
        load_communes(session, COMMUNES)
        session.commit()
    raw = database.engine.raw_connection()
    data = workdir / "reports.copy"
    try:
        _stage(raw, n, mix)
        cur = raw.cursor()
        with open(data, "wb") as f, cur.copy(
                "COPY (SELECT id, geometry, commune_nis, 'mobile', '{4G}', '{Proximus}', description, "
                "'validated' FROM staging) TO STDOUT") as copy:
            for block in copy:
                f.write(block)
        raw.commit()
        # Zone grouping is left out of both loads: the export carries confirmed zones only (none
        # here), and at this density (up to 2,000 reports per km², one network) the reports
        # percolate into one zone whose grouping, not the export, would take the load's time.
        cur.execute("ALTER TABLE reports DISABLE TRIGGER reports_group_zones_insert")
        cur.execute("ALTER TABLE reports DISABLE TRIGGER reports_store_features_insert")
        raw.commit()
        bare = _copy_in(raw, data)
        cur.execute("TRUNCATE reports CASCADE")
        cur.execute("ALTER TABLE reports ENABLE TRIGGER reports_store_features_insert")
        raw.commit()
        with_features = _copy_in(raw, data)
        cur.execute("SELECT count(*), (SELECT count(*) FROM report_features) FROM reports")
        assert cur.fetchone() == (n, n)
    finally:
        raw.close()
        data.unlink(missing_ok=True)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE reports"))
        c.execute(text("VACUUM ANALYZE report_features"))
    # read both tables once, so that no export below pays for a cold cache
    with database.engine.connect() as c:
        c.execute(text("SELECT sum(length(r::text)) FROM reports r")).scalar_one()
        c.execute(text("SELECT sum(length(feature_json)) FROM report_features")).scalar_one()
    database.engine.dispose()
    return bare, with_features


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
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss, usage.ru_utime + usage.ru_stime]))
"""


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run ``argv``; return (wall seconds, peak RSS in MB, CPU seconds) of that process alone."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    try:
        code, maxrss_kb, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        code, maxrss_kb, cpu = 1, 0, 0.0
    if code != 0 or done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr[-2000:]}")
    return wall, maxrss_kb / 1024, cpu  # Linux: kilobytes


def best(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The fastest of repeated runs (the machine's noise only ever adds time), with the
    highest peak RSS seen."""
    fastest = min(runs)
    return fastest[0], max(r[1] for r in runs), fastest[2]


def check_geojson(path: Path, n: int, mix: str) -> int:
    """Parse every feature of a geosignal export one at a time; return how many there are."""
    decoder = json.JSONDecoder()
    data = path.read_text(encoding="utf-8")
    start = data.index('"features":[') + len('"features":[')
    head = json.loads(data[:start - len(',"features":[')] + "}")
    assert head["type"] == "FeatureCollection"
    kinds = {"Point": 0, "Polygon": 0}
    i, count = start, 0
    while data[i] != "]":
        feature, i = decoder.raw_decode(data, i)
        assert feature["type"] == "Feature"
        kinds[feature["geometry"]["type"]] += 1
        count += 1
        if data[i] == ",":
            i += 1
    tail = json.loads("{" + data[i + 2:])
    assert tail["numberReturned"] == count == n, (tail["numberReturned"], count, n)
    assert kinds["Polygon"] == (n // 10 if mix == "polygons" else 0), kinds
    return count


def service_child(url: str, out: str) -> None:
    """Child process: stream the export service into ``out`` (no recording)."""
    from geosignal.db import Database
    from geosignal.services.export import ExportRequest, stream_export

    database = Database(url)
    with database.session() as session, open(out, "wb") as f:
        for chunk in stream_export(session, ExportRequest()).chunks:  # the bytes HTTP streams
            f.write(chunk)


def report_columns(url: str) -> list[str]:
    """Return the columns of ``reports``, in table order (what ogr2ogr reads)."""
    engine = create_engine(url)
    with engine.connect() as c:
        names = c.execute(text("SELECT column_name FROM information_schema.columns WHERE table_name = 'reports' "
                               "ORDER BY ordinal_position")).scalars().all()
    engine.dispose()
    return list(names)


def recorded_sha256(url: str) -> str:
    """Return the SHA-256 of the latest recorded export run."""
    engine = create_engine(url)
    with engine.connect() as c:
        digest = c.execute(text("SELECT sha256 FROM export_runs ORDER BY created_at DESC LIMIT 1")).scalar_one()
    engine.dispose()
    return digest


def measure(n: int, mix: str, workdir: Path, repeat: int = 1) -> dict[str, float]:
    """Load ``n`` reports of ``mix`` and time the three exports (each ``repeat`` times,
    interleaved; the fastest kept); return the figures."""
    import hashlib

    name = f"geosignal_bench_{os.getpid()}_{n}_{mix}"
    url = create_database(name)
    try:
        bare_s, load_s = populate(url, n, mix, workdir)
        u = make_url(url)
        pg = f"PG:dbname={u.database} host={u.host} port={u.port or 5432} user={u.username} password={u.password}"
        out_service, out_cli, out_ogr = workdir / "service.geojson", workdir / "cli.geojson", workdir / "ogr.geojson"
        env = {**os.environ, "GEOSIGNAL_DATABASE_URL": url,
               "GEOSIGNAL_ENV": "development", "PYTHONPATH": str(ROOT)}
        runs: dict[str, list[tuple[float, float, float]]] = {"cli": [], "ogr": [], "service": []}
        for _ in range(repeat):
            runs["cli"].append(run_child([sys.executable, "-c", "from geosignal.cli import main; main()", "export",
                                          "-o", str(out_cli)], env))
            out_ogr.unlink(missing_ok=True)
            runs["ogr"].append(run_child(["ogr2ogr", "-f", "GeoJSON", "-lco", "RFC7946=YES", "-lco",
                                          "COORDINATE_PRECISION=6", str(out_ogr), pg, "-sql",
                                          f"SELECT {', '.join(report_columns(url))} FROM reports", "-nln", "reports"]))
            runs["service"].append(run_child([sys.executable, __file__, "--child-service", url, str(out_service)], env))
        cli, ogr, service = best(runs["cli"]), best(runs["ogr"]), best(runs["service"])
        count = check_geojson(out_cli, n, mix)
        check_geojson(out_service, n, mix)
        sha = hashlib.sha256()
        with open(out_cli, "rb") as f:
            while block := f.read(1 << 20):
                sha.update(block)
        assert sha.hexdigest() == recorded_sha256(url), "recorded checksum differs from the bytes written"
        figures = {"n": n, "mix": mix, "bare_s": bare_s, "load_s": load_s, "count": count,
                   "service_s": service[0], "service_mb": service[1], "bytes": out_cli.stat().st_size,
                   "cli_s": cli[0], "cli_mb": cli[1], "ogr_s": ogr[0], "ogr_mb": ogr[1],
                   "cli_cpu": cli[2], "ogr_cpu": ogr[2], "service_cpu": service[2]}
        for path in (out_service, out_cli, out_ogr):
            path.unlink()
        return figures
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="200000", help="comma-separated report counts")
    parser.add_argument("--million", action="store_true", help="also run at 1,000,000 reports")
    parser.add_argument("--quick", action="store_true", help="20,000 reports only (self-check, < 2 min)")
    parser.add_argument("--mix", default="points,polygons", help="points, polygons (10 %% zones) or both")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each export (the fastest is kept)")
    parser.add_argument("--child-service", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_service:
        service_child(*args.child_service)
        return
    if shutil.which("ogr2ogr") is None:
        raise SystemExit("ogr2ogr not found: apt-get install gdal-bin")
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    mixes = [m.strip() for m in args.mix.split(",")]
    version = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"geosignal export vs {version}; case 33 reports; runs never overlap")
    print(f"{'N':>9} {'mix':>8} | {'COPY bare':>9} {'+Features':>9} {'ratio':>5} | {'cli s':>6} {'RSS MB':>6} | "
          f"{'service s':>9} {'RSS MB':>6} | {'ogr2ogr s':>9} {'RSS MB':>6} | {'cli/ogr':>7} {'svc/ogr':>7} | "
          f"{'MB out':>6} | {'CPU s cli/svc/ogr (client process only)':>20}")
    with tempfile.TemporaryDirectory(prefix="geosignal-bench-") as tmp:
        for n in sizes:
            for mix in mixes:
                r = measure(n, mix, Path(tmp), args.repeat)
                print(f"{r['n']:>9,} {r['mix']:>8} | {r['bare_s']:>9.1f} {r['load_s']:>9.1f} "
                      f"{r['load_s'] / r['bare_s']:>5.2f} | {r['cli_s']:>6.2f} {r['cli_mb']:>6.0f} | "
                      f"{r['service_s']:>9.2f} {r['service_mb']:>6.0f} | {r['ogr_s']:>9.2f} {r['ogr_mb']:>6.0f} | "
                      f"{r['cli_s'] / r['ogr_s']:>7.2f} {r['service_s'] / r['ogr_s']:>7.2f} | "
                      f"{r['bytes'] / 1e6:>6.1f} | {r['cli_cpu']:.2f}/{r['service_cpu']:.2f}/{r['ogr_cpu']:.2f}",
                      flush=True)
    print("targets: cli/ogr ≤ 0.50, RSS ≤ 150 MB and flat in N; outputs parsed: every feature, count == N, "
          "zones == N/10 in the polygon mix, recorded SHA-256 == file")


if __name__ == "__main__":
    main()
